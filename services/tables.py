"""Imports every service's table definitions so Alembic sees one metadata."""

from services.ingest.adapters import tables as ingest_tables

__all__ = ["ingest_tables"]
