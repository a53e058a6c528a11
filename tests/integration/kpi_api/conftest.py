"""A real `stagetrack serve kpi` over a small store (its projector running), for the fuzz tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.integration.kpi.store_rows import AT, MAX_AMOUNT, StoreWriter, booking, hours, moved, visitor
from tests.keys import new_key
from tests.stack import served


@pytest.fixture
def kpi_zone() -> str:
    """The served KPI's reporting time zone (a test parametrizes `kpi_zone` for others)."""
    return "UTC"


@pytest.fixture
async def kpi_server(
    kpi_zone: str, settings: ServiceSettings, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[str]:
    """Its base URL."""
    await upgrade(settings.database_url, settings.database_schema)
    store = StoreWriter()
    for n in range(5):
        lead = f"fuzz{n}"
        await store.append(engine, [*visitor(lead, AT + hours(n)), moved(lead, "visitor", "lead", AT + hours(n + 1))])
        await store.append(engine, [booking(lead, MAX_AMOUNT if n == 0 else str(n * 1000), AT + hours(n + 2))])
    async with served("kpi", settings, tmp_path / "kpi.log", STAGETRACK_REPORTING_TIMEZONE=kpi_zone) as url:
        yield url


@pytest.fixture
async def kpi_key(kpi_server: str, engine: AsyncEngine) -> str:
    """A `read:kpi` key the served KPI accepts."""
    return await new_key(engine, "read:kpi")
