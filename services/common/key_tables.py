"""The key store's table, shared by every service that authenticates requests."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY

from services.common.db import metadata

# An API key is shown once; only its SHA-256 is kept (keys are 256-bit random, so a fast hash is enough).
# `lead_id_secret` (tracker keys only) must be kept readable: the ingest recomputes HMAC-SHA256(lead_id) with it.
source_keys = Table(
    "source_keys",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("key_prefix", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False, server_default=text("'{crm}'")),
    Column("origins", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("lead_id_secret", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
