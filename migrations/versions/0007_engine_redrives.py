"""Engine redrives: the dead letters re-published to the events topic, so a redrive publishes each one once

`stagetrack dead-letters redrive` records each dead letter it re-published (its place on the dead-letter
topic) in the transaction that commits only once Kafka acknowledged the records (docs/engine.md "Redrive").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_redrives",
        sa.Column("dead_letter", sa.Text(), nullable=False),
        sa.Column("redriven_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("dead_letter", name=op.f("pk_engine_redrives")),
    )


def downgrade() -> None:
    op.drop_table("engine_redrives")
