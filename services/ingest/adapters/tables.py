"""Tables owned by the ingest service."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Table, Text, func

from services.common.db import metadata

# Event ids of CRM deliveries already published to Kafka, so a redelivery is answered without publishing again.
connector_deliveries = Table(
    "connector_deliveries",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("connector", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
