"""The dispatcher's tables (PostgreSQL): where it is in stagetrack.lead-events, what it knows of each lead, the
open SLA deadlines, the deliveries with their attempts, and the lead-event records it could not read.

The intake writes the leads, deadlines, deliveries, set-aside records and its offsets in one transaction per
batch, so a restart resumes exactly after the last batch whose effects are stored.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)

from services.common.db import metadata

# The consumer's next offset per partition, committed with the batch's effects; Kafka's own commit is not used.
dispatch_offsets = Table(
    "dispatch_offsets",
    metadata,
    Column("group_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("group_id", "topic", "partition"),
)

# What moments need to know of a lead (domain/lead_facts.py); `last_position` skips a record published twice.
dispatch_leads = Table(
    "dispatch_leads",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("last_position", BigInteger, nullable=False),
    Column("stage", Text),
    Column("division", Text),
    Column("crm_ids", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("source", Text),  # the lead's value of the model's `source` dimension (a subscription's `sources`)
)

# The open SLA deadline of each lead's current stay (one at most); deleted when it fires or is cancelled.
dispatch_sla_deadlines = Table(
    "dispatch_sla_deadlines",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("stage", Text, nullable=False),
    Column("sla_id", Text),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("partition", Integer, nullable=False),
    Index("ix_dispatch_sla_deadlines_due", "partition", "due_at"),
)

# One row per (moment, endpoint). `state`: pending (to send; `next_attempt_at`, leased while in flight),
# delivered, or failed (dead-lettered with `last_error`; `stagetrack dispatch resend ID` queues it again).
dispatch_deliveries = Table(
    "dispatch_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("webhook_id", Text, nullable=False, unique=True),
    Column("moment_id", Text, nullable=False),
    Column("moment_kind", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("lead_id", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),
    Index("ix_dispatch_deliveries_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    Index("ix_dispatch_deliveries_lead", "endpoint", "lead_id", "id", postgresql_where=text("state = 'pending'")),
    Index("ix_dispatch_deliveries_failed", "finished_at", postgresql_where=text("state = 'failed'")),
)

# Every attempt of a delivery with its outcome: the HTTP status, or the error when there was no answer.
dispatch_attempts = Table(
    "dispatch_attempts",
    metadata,
    Column("delivery_id", BigInteger, ForeignKey("dispatch_deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("status", Integer),
    Column("error", Text),
    PrimaryKeyConstraint("delivery_id", "attempt"),
)

# Lead-event records the dispatcher could not decode; the offset moved past each in the batch that wrote it.
dispatch_set_aside = Table(
    "dispatch_set_aside",
    metadata,
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", LargeBinary),
    Column("value", LargeBinary),
    Column("reason", Text, nullable=False),
    Column("set_aside_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("topic", "partition", "offset"),
)
