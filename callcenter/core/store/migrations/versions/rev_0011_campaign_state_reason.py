"""Why a campaign is in its state: ``campaigns.state_reason``.

The dialer pauses a campaign whose abandonment rate goes over its limit and
says why here; a command that runs or pauses it clears the reason. Rows
written before have none.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add state_reason to campaigns."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop it (the reason of a dialer's pause is then only in the tipping attempt's trail)."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("state_reason")
