"""What a live person's campaign call reached: result, its detail, the greeting.

Four nullable columns on ``campaign_attempts``: ``result`` (what the flow
reached: confirmed, cancelled, rescheduled, opted_out, ...), ``result_detail``
(e.g. the new time of a reschedule), ``greeted_at`` (when the engine's first
words reached the callee) and ``abandoned`` (a live answer not greeted within
2 s). Rows written before stay as they are (all None). Written so that only
``down_revision`` changes if revisions are added before it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add result, result_detail, greeted_at and abandoned to campaign_attempts."""
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("result_detail", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("greeted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("abandoned", sa.Boolean(), nullable=True))


def downgrade() -> None:
    """Drop them (the results of live calls are lost)."""
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.drop_column("abandoned")
        batch_op.drop_column("greeted_at")
        batch_op.drop_column("result_detail")
        batch_op.drop_column("result")
