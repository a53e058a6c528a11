"""Dispatch: the dispatcher's offsets, lead facts, open SLA deadlines, deliveries and attempts, set-aside records

The dispatcher consumes stagetrack.lead-events and sends the moments its subscriptions name as webhooks
(docs/dispatch.md). Its intake writes every table but the attempts in one transaction per batch, with its offsets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatch_offsets",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name=op.f("pk_dispatch_offsets")),
    )
    op.create_table(
        "dispatch_leads",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("last_position", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("division", sa.Text(), nullable=True),
        sa.Column("crm_ids", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_dispatch_leads")),
    )
    op.create_table(
        "dispatch_sla_deadlines",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("sla_id", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_dispatch_sla_deadlines")),
    )
    op.create_index("ix_dispatch_sla_deadlines_due", "dispatch_sla_deadlines", ["partition", "due_at"])
    op.create_table(
        "dispatch_deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.Text(), nullable=False),
        sa.Column("moment_id", sa.Text(), nullable=False),
        sa.Column("moment_kind", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'failed')", name=op.f("ck_dispatch_deliveries_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_deliveries")),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_dispatch_deliveries_webhook_id")),
    )
    pending = sa.text("state = 'pending'")
    op.create_index("ix_dispatch_deliveries_due", "dispatch_deliveries", ["next_attempt_at"], postgresql_where=pending)
    op.create_index(
        "ix_dispatch_deliveries_lead", "dispatch_deliveries", ["endpoint", "lead_id", "id"], postgresql_where=pending
    )
    op.create_index(
        "ix_dispatch_deliveries_failed",
        "dispatch_deliveries",
        ["finished_at"],
        postgresql_where=sa.text("state = 'failed'"),
    )
    op.create_table(
        "dispatch_attempts",
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["dispatch_deliveries.id"],
            name=op.f("fk_dispatch_attempts_delivery_id_dispatch_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "attempt", name=op.f("pk_dispatch_attempts")),
    )
    op.create_table(
        "dispatch_set_aside",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", "offset", name=op.f("pk_dispatch_set_aside")),
    )


def downgrade() -> None:
    op.drop_table("dispatch_set_aside")
    op.drop_table("dispatch_attempts")
    op.drop_table("dispatch_deliveries")
    op.drop_table("dispatch_sla_deadlines")
    op.drop_table("dispatch_leads")
    op.drop_table("dispatch_offsets")
