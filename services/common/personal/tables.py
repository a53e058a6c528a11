"""The personal-data tables: people's data keys (wrapped), the identities that find them, erasure receipts and
the audit of lead reads. Shared: the ingest creates keys, the engine's erase and export routes read and delete."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.common.db import metadata

# One data key per person, wrapped (AES-GCM) by the master key `master_key_id`. Keys linked because one event
# named identities of both share a `group_id`: erasing either deletes the group.
person_keys = Table(
    "person_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("group_id", Text, nullable=False),
    Column("master_key_id", Text, nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_person_keys_group_id", "group_id"),
)

# identity (email_hash, crm, or an anonymous id when the event had no other) -> the data key it finds.
person_key_identities = Table(
    "person_key_identities",
    metadata,
    Column("kind", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    PrimaryKeyConstraint("kind", "value"),
    Index("ix_person_key_identities_key_id", "key_id"),
)

# What each erasure removed, without personal data: the subject as a keyed hash, the engine's internal lead ids
# (a replay applies the same erasure to what it rebuilds), counts per place.
erasure_receipts = Table(
    "erasure_receipts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("subject_kind", Text, nullable=False),
    Column("subject_hash", Text, nullable=False),
    Column("lead_ids", ARRAY(Text), nullable=False),
    Column("keys_deleted", Integer, nullable=False),
    Column("removed", JSONB, nullable=False),
)

# Every read of a lead through the API: which key, which lead (the engine's id), when.
lead_reads = Table(
    "lead_reads",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("api_key_id", BigInteger, nullable=False),
    Column("lead_id", Text, nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_lead_reads_lead_id", "lead_id"),
)

# How far the one-off `stagetrack privacy backfill` got (the last lead id it keyed), so a rerun resumes.
privacy_backfill = Table(
    "privacy_backfill",
    metadata,
    Column("name", Text, primary_key=True),
    Column("last_lead_id", Text, nullable=False),
)
