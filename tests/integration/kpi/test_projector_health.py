"""The projector tells the truth about itself: a wedged projector turns /readyz 503 naming it, with the stall
gauge and the real lag; a failure that repeats is logged once per interval, not once per retry."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.kpi.adapters.transaction import transaction
from services.kpi.app.bootstrap import create_app
from services.kpi.app.projector import Projector
from services.kpi.app.settings import KpiSettings
from tests.integration.kpi.store_rows import AT, MODEL, StoreWriter, visitor
from tests.stack import eventually


def sample(metrics: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found[1])


async def test_a_wedged_projector_is_named_by_readyz_and_the_stall_gauge_until_released(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    store = StoreWriter()
    await store.append(engine, visitor("early"))
    kpi_settings = KpiSettings(database_schema=settings.database_schema, stall_after_seconds=2)
    app = create_app(kpi_settings, clock=lambda: AT)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kpi") as client:

            async def state() -> tuple[int, str, float, float]:
                ready, metrics = await client.get("/readyz"), (await client.get("/metrics")).text
                stalled = sample(metrics, 'stagetrack_loop_stalled{loop="kpi-projector"}')
                lag = sample(metrics, "stagetrack_kpi_projection_lag_events")
                return ready.status_code, ready.json()["checks"].get("projector", ""), stalled, lag

            async def healthy() -> bool:
                return await state() == (200, "ok", 0.0, 0.0)

            await eventually(healthy, 20, "the projector caught up and ready")
            async with transaction(engine) as holder:  # the test wedges it: the checkpoint row stays locked
                await holder.execute("SELECT position FROM kpi_checkpoint WHERE name = 'projections' FOR UPDATE")
                await store.append(engine, [*visitor("late"), *visitor("later")])

                async def wedged() -> tuple[int, str, float, float] | None:
                    found = await state()
                    return found if found[0] == 503 else None

                _, reason, stalled, lag = await eventually(wedged, 20, "/readyz naming the stuck projector")
                assert "kpi-projector stalled" in reason and "4 wait" in reason, reason
                assert (stalled, lag) == (1.0, 4.0)
            await eventually(healthy, 20, "the projector back: ready, not stalled, no lag")


async def test_a_repeated_failure_is_logged_once_per_interval_with_a_count(
    settings: ServiceSettings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """The checkpoint row held by the test and a lock_timeout of 50 ms: every batch fails the same way
    (LockNotAvailableError, a transient error: retried, never set aside)."""
    await upgrade(settings.database_url, settings.database_schema)
    store = StoreWriter()
    await store.append(engine, visitor("early"))
    assert await Projector(engine, MODEL, CollectorRegistry()).catch_up() == 2
    impatient = db.create_engine(settings.database_url, settings.database_schema, lock_timeout_seconds=0.05)
    registry = CollectorRegistry()
    projector = Projector(impatient, MODEL, registry, retry_seconds=0.01, lag_interval_seconds=0.05)
    caplog.set_level(logging.INFO, logger="services.kpi.app.projector")

    def errors() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "services.kpi.app.projector" and r.levelno >= logging.ERROR]

    running = asyncio.create_task(projector.run())
    try:
        async with transaction(engine) as holder:
            await holder.execute("SELECT position FROM kpi_checkpoint WHERE name = 'projections' FOR UPDATE")
            await store.append(engine, visitor("late"))

            async def retried_often() -> bool:
                failures = registry.get_sample_value("stagetrack_kpi_projection_failures_total") or 0
                return failures >= 30 and registry.get_sample_value("stagetrack_kpi_projection_lag_events") == 2

            await eventually(retried_often, 30, "30 retries, the lag measured meanwhile")
            (first,) = errors()  # the first one, with its traceback; the repeats are counted, not logged
            assert first.exc_info is not None and "LockNotAvailableError" in repr(first.exc_info[1])

        async def caught_up() -> bool:
            return registry.get_sample_value("stagetrack_kpi_projection_lag_events") == 0

        await eventually(caught_up, 20, "the projector past the released lock")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await impatient.dispose()
    first, summary = errors()  # on recovery: one line with the count
    assert re.search(r"repeated \d+ more time", summary.getMessage()), summary.getMessage()
    assert registry.get_sample_value("stagetrack_kpi_set_aside_total") == 0
