"""The event store (PostgreSQL): lead streams, the identity index, snapshots, dedupe and consumer offsets."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Sequence,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.common.db import metadata

# Global order of the store. Positions are taken under a transaction-scoped advisory lock held until commit
# (adapters/store.py), so they are assigned in commit order and a reader by position never skips a late row.
position_seq = Sequence("lead_event_position_seq", metadata=metadata)

# Append-only. (lead_id, version) is the stream's optimistic-concurrency key: a second writer of the same
# version fails and retries instead of overwriting.
lead_events = Table(
    "lead_events",
    metadata,
    Column("position", BigInteger, nullable=False, unique=True),
    Column("lead_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("cause_event_id", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("data", JSONB, nullable=False),
    PrimaryKeyConstraint("lead_id", "version"),
)

# The latest state per lead, written in the same transaction as its events (a cache of fold(stream)).
lead_snapshots = Table(
    "lead_snapshots",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("state", JSONB, nullable=False),
)

# identity (anonymous id, CRM id, email hash) -> lead. One owner per identity: a race between two engines
# claiming the same identity fails one transaction, whose retry then sees the owner and merges.
lead_identities = Table(
    "lead_identities",
    metadata,
    Column("kind", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("lead_id", Text, nullable=False),
    PrimaryKeyConstraint("kind", "value"),
    Index("ix_lead_identities_lead_id", "lead_id"),
)

# Every envelope event_id the engine has taken (applied or dead-lettered): the same id again is skipped.
processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", Text, primary_key=True),
)

# The consumer's position, committed with the events it produced; Kafka's own commit is only a hint.
consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("group_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("group_id", "topic", "partition"),
)

# How far the store has been published to stagetrack.lead-events (the store is the outbox).
outbox_cursor = Table(
    "outbox_cursor",
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# The dead letters `stagetrack dead-letters redrive` re-published (`<dead-letter topic>/<partition>/<offset>`):
# each is published once, however often a redrive runs (app/dead_letter_admin.py).
engine_redrives = Table(
    "engine_redrives",
    metadata,
    Column("dead_letter", Text, primary_key=True),
    Column("redriven_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
