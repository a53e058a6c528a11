"""Lead activity: page and screen views counted per lead by path or screen and campaign; the cause's type

The engine adds each batch's views to `lead_activity` in the batch's transaction, and keeps the type of the
envelope behind each domain event in `lead_events.cause_type`, so the lead view can show what a person did
before and since identification and the event behind each score change (docs/engine.md "The lead view").
Rows stored before this revision have no cause type, and the views applied before it were not counted.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lead_events", sa.Column("cause_type", sa.Text(), nullable=True))
    op.create_table(
        "lead_activity",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("campaign", sa.Text(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "kind", "phase", "key", "campaign", name=op.f("pk_lead_activity")),
        postgresql_with={"fillfactor": 70},
    )


def downgrade() -> None:
    op.drop_table("lead_activity")
    op.drop_column("lead_events", "cause_type")
