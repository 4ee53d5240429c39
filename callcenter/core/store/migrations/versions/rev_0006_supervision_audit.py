"""Supervision audit: who listened in, whispered or barged into which call, when, how long.

Only a new table: everything already stored stays as it is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create supervision_audit."""
    op.create_table(
        "supervision_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("supervisor", sa.String(length=128), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=255), nullable=True),
        sa.Column("leg_call_id", sa.String(length=32), nullable=True),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("mode_log", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("sip_code", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_audit")),
        sa.UniqueConstraint("monitor_id", name=op.f("uq_supervision_audit_monitor_id")),
    )
    with op.batch_alter_table("supervision_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_audit_call_id"), ["call_id"],
                              unique=False)
        batch_op.create_index("ix_supervision_audit_supervisor_started_at",
                              ["supervisor", "started_at"], unique=False)


def downgrade() -> None:
    """Drop supervision_audit (the audit trail is lost)."""
    op.drop_table("supervision_audit")
