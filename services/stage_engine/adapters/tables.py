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
    # the type of the envelope that caused the event (page_viewed, form_submitted...); null on rows stored before
    # it was kept. The lead view names the event behind each score change with it.
    Column("cause_type", Text, nullable=True),
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

# Page and screen views per lead, counted by (path or screen name, campaign) (domain/activity.py) and added to in
# the batch's transaction: per (lead, kind, phase) at most ACTIVITY_KEYS_PER_LEAD rows
# (adapters/activity_statement.py); views past that count under the key ''. An absorbed lead's rows are added to
# its survivor's in the transaction of the merge.
lead_activity = Table(
    "lead_activity",
    metadata,
    Column("lead_id", Text, nullable=False),
    Column("kind", Text, nullable=False),  # page | screen
    Column("phase", Text, nullable=False),  # before | since (identification)
    Column("key", Text, nullable=False),  # the path or screen name; '' not itemised
    Column("campaign", Text, nullable=False),  # [campaign, source, medium] as JSON; '' none
    Column("views", BigInteger, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),  # event times
    Column("last_seen", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("lead_id", "kind", "phase", "key", "campaign"),
    # room in each page for the new version of an updated counter: no key changes, so the update can be HOT (no
    # index entry written)
    postgresql_with={"fillfactor": 70},
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
