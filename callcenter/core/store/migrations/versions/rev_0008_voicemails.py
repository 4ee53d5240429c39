"""Voicemails: the messages callers left at a queue's limit (where the WAV is, how long).

Only a new table: everything already stored stays as it is. Written so that
only ``down_revision`` changes if revisions are added before it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create voicemails."""
    op.create_table(
        "voicemails",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("ended_by", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("heard_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voicemails")),
    )
    with op.batch_alter_table("voicemails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voicemails_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            "ix_voicemails_queue_recorded_at", ["queue", "recorded_at"], unique=False
        )


def downgrade() -> None:
    """Drop voicemails (the WAV files stay where they are)."""
    op.drop_table("voicemails")
