"""Tables owned by the ingest service."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Table, Text, func

from services.common.db import metadata

# An API key is shown once; only its SHA-256 is kept (keys are 256-bit random, so a fast hash is enough).
source_keys = Table(
    "source_keys",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("key_prefix", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Event ids of CRM deliveries already published to Kafka, so a redelivery is answered without publishing again.
connector_deliveries = Table(
    "connector_deliveries",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("connector", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
