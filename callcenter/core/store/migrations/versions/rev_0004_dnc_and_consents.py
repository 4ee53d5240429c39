"""The internal do-not-call list, its audit trail, and callees' consents.

Only new tables: everything already stored stays as it is.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create internal_dnc, dnc_audit and consents."""
    op.create_table(
        "internal_dnc",
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_internal_dnc")),
    )
    op.create_table(
        "dnc_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_audit")),
    )
    op.create_index(op.f("ix_dnc_audit_number"), "dnc_audit", ["number"])
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("campaign", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.String(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_number"), "consents", ["number"])


def downgrade() -> None:
    """Drop them (the internal list, its audit trail and the consents are lost)."""
    op.drop_index(op.f("ix_consents_number"), table_name="consents")
    op.drop_table("consents")
    op.drop_index(op.f("ix_dnc_audit_number"), table_name="dnc_audit")
    op.drop_table("dnc_audit")
    op.drop_table("internal_dnc")
