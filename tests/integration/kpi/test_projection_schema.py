"""Migrations 0003, 0006 and 0011 create exactly the KPI tables `services/kpi/adapters/tables.py` declares;
and down again."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import services.tables  # noqa: F401  (every table on the shared metadata)
from services.common.db import metadata
from services.common.migrate import downgrade, upgrade
from services.common.settings import ServiceSettings

KPI_TABLES = {
    "kpi_checkpoint",
    "kpi_stays",
    "kpi_transitions",
    "kpi_leads",
    "kpi_revenue",
    "kpi_revenue_shares",
    "kpi_feedback",
    "kpi_set_aside",
    "kpi_lead_values",
    "kpi_dimension_values",
    "kpi_slice_day_counts",
    "kpi_slice_flow_days",
}


def _kpi_object(diff: Any) -> bool:
    """True when an autogenerate difference concerns a KPI table."""
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item[1:]:
            names = {part} if isinstance(part, str) else {getattr(part, "name", None)}
            names.add(getattr(getattr(part, "table", None), "name", None))
            if names & KPI_TABLES:
                return True
    return False


async def test_the_kpi_migration_matches_the_declared_tables_and_downgrades(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    schema = settings.database_schema
    await upgrade(settings.database_url, schema)

    def differences(sync: Any) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if _kpi_object(d)]

    def tables(sync: Any) -> set[str]:
        return set(inspect(sync).get_table_names(schema=schema))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        assert KPI_TABLES <= await conn.run_sync(tables)

    await downgrade(settings.database_url, schema, "0002")
    async with engine.connect() as conn:
        assert not KPI_TABLES & await conn.run_sync(tables)
    await upgrade(settings.database_url, schema)
