"""The projector: keeps the KPI projections up to date with the event store, exactly once.

It reads `lead_events` by position (docs/kpi.md "Projections" says why the store and not the topic) and
applies each batch and moves `kpi_checkpoint` in ONE transaction, under the checkpoint's row lock: a crash
loses at most an uncommitted batch, and several replicas take turns. A batch that fails is retried from the
checkpoint, never skipped (a projection that cannot advance shows as lag and a stale timestamp).

Exposition (its own registry, given by bootstrap):
    stagetrack_kpi_projected_position 48211.0
    stagetrack_kpi_projection_lag_events 0.0
    stagetrack_kpi_last_projected_timestamp_seconds 1.7646e+09
    stagetrack_kpi_projected_events_total 48211.0
    stagetrack_kpi_projection_failures_total 0.0
    stagetrack_kpi_projection_anomalies_total 0.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kpi.adapters.projection_store import lock_checkpoint, project_next, set_checkpoint, store_head
from services.kpi.adapters.summary_store import ready, refresh
from services.stage_engine.domain.model_types import StageModel

log = logging.getLogger(__name__)


class Projector:
    def __init__(
        self,
        engine: AsyncEngine,
        model: StageModel,
        registry: CollectorRegistry,
        *,
        batch: int = 5000,
        idle_seconds: float = 0.2,
        retry_seconds: float = 1.0,
    ) -> None:
        self._engine = engine
        self._model = model
        self._batch = batch
        self._idle = idle_seconds
        self._retry = retry_seconds
        self.position = Gauge(
            "stagetrack_kpi_projected_position", "Store position the KPI projections include", registry=registry
        )
        self.lag = Gauge(
            "stagetrack_kpi_projection_lag_events",
            "Store head position minus the projected position (events not yet in the KPIs)",
            registry=registry,
        )
        self.last = Gauge(
            "stagetrack_kpi_last_projected_timestamp_seconds",
            "Wall-clock time the projections last advanced or were seen caught up with the store",
            registry=registry,
        )
        self.events = Counter(
            "stagetrack_kpi_projected_events", "Lead-events applied to the projections", registry=registry
        )
        self.failures = Counter(
            "stagetrack_kpi_projection_failures", "Projection batches that failed and were retried", registry=registry
        )
        self.anomalies = Counter(
            "stagetrack_kpi_projection_anomalies",
            "Records inconsistent with one open stay per lead (logged; the position is still applied)",
            registry=registry,
        )

    async def run(self) -> None:
        """Runs until cancelled; start it as a task in the service's lifespan."""
        while True:
            try:
                if await self.project_once() == 0:
                    await asyncio.sleep(self._idle)
            except asyncio.CancelledError:
                raise
            except Exception:  # PostgreSQL away, or a record it cannot read: retried from the checkpoint
                self.failures.inc()
                log.exception("projection batch failed; retrying from the checkpoint in %s s", self._retry)
                await asyncio.sleep(self._retry)

    async def project_once(self) -> int:
        """Applies the next batch (if any) with its checkpoint in one transaction; returns its record count."""
        async with transaction(self._engine) as conn:
            checkpoint = await lock_checkpoint(conn)
            if not await ready(conn):  # the first batch after migration 0005 (or from empty tables)
                await refresh(conn)
            changes = await project_next(conn, checkpoint, self._batch, self._model)
            if changes.records:
                checkpoint = changes.last_position
                await set_checkpoint(conn, checkpoint)
            head = await store_head(conn)
        self.position.set(checkpoint)
        self.lag.set(max(head - checkpoint, 0))
        if changes.records or head <= checkpoint:
            self.last.set(time.time())
        self.events.inc(changes.records)
        self.anomalies.inc(len(changes.anomalies))
        return changes.records

    async def catch_up(self) -> int:
        """Projects until nothing is left; returns the number of records applied."""
        total = 0
        while n := await self.project_once():
            total += n
        return total


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """asyncpg's own transaction on a pooled connection (statements go straight to the driver)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, asyncpg.Connection)
        async with driver.transaction():
            yield driver
