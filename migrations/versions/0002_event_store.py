"""event store: lead streams, snapshots, identities, dedupe, consumer offsets, outbox cursor

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("lead_event_position_seq")))
    op.create_table(
        "lead_events",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("cause_event_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("data", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "version", name=op.f("pk_lead_events")),
        sa.UniqueConstraint("position", name=op.f("uq_lead_events_position")),
    )
    op.create_table(
        "lead_snapshots",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_snapshots")),
    )
    op.create_table(
        "lead_identities",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_lead_identities")),
    )
    op.create_index("ix_lead_identities_lead_id", "lead_identities", ["lead_id"])
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "consumer_offsets",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name=op.f("pk_consumer_offsets")),
    )
    op.create_table(
        "outbox_cursor",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_cursor")),
    )


def downgrade() -> None:
    for table in (
        "outbox_cursor",
        "consumer_offsets",
        "processed_events",
        "lead_identities",
        "lead_snapshots",
        "lead_events",
    ):
        op.drop_table(table)
    op.execute(sa.schema.DropSequence(sa.Sequence("lead_event_position_seq")))
