"""KPI set-aside records: store records the projections could not hold, kept for `stagetrack dead-letters`

The projector records a record here (its position, lead, event type and the error) and moves its checkpoint
past it in the same transaction; `redrive` re-projects it and deletes the row (docs/kpi.md "Set aside").

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_set_aside",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_kpi_set_aside")),
    )


def downgrade() -> None:
    op.drop_table("kpi_set_aside")
