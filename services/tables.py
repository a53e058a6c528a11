"""Imports every service's table definitions so Alembic sees one metadata."""

from services.common import key_tables
from services.common.personal import tables as personal_tables
from services.dispatch.adapters import tables as dispatch_tables
from services.ingest.adapters import tables as ingest_tables
from services.kpi.adapters import tables as kpi_tables
from services.stage_engine.adapters import tables as stage_engine_tables

__all__ = ["dispatch_tables", "ingest_tables", "key_tables", "kpi_tables", "personal_tables", "stage_engine_tables"]
