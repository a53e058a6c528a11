"""The projection's lag, measured apart from the projector: store head minus the committed checkpoint.

The projector sets the lag after each commit too; this watcher keeps it true while the projector waits on a
lock or keeps failing (its own transaction cannot report that). Plain reads: they never wait for the row lock
the projector (or a test, or a rebuild) holds on the checkpoint.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.kpi.adapters.projection_store import CHECKPOINT
from services.kpi.adapters.projector_metrics import ProjectorMetrics

log = logging.getLogger(__name__)
_MEASURE = (
    "SELECT (SELECT coalesce(max(position), 0) FROM lead_events) AS head, "
    "(SELECT position FROM kpi_checkpoint WHERE name = $1) AS position, (SELECT count(*) FROM kpi_set_aside) AS aside"
)


class LagWatcher:
    def __init__(self, engine: AsyncEngine, metrics: ProjectorMetrics, interval_seconds: float = 1.0) -> None:
        self._engine = engine
        self._metrics = metrics
        self._interval = interval_seconds

    async def measure(self) -> None:
        """The store head, the committed checkpoint and the set-aside count, read together."""
        async with self._engine.connect() as conn:
            driver = await raw_connection(conn)
            row = await driver.fetchrow(_MEASURE, CHECKPOINT, timeout=max(self._interval * 5, 5.0))
        assert row is not None
        self._metrics.observe(int(row["head"]), int(row["position"] or 0), int(row["aside"]))

    async def run(self) -> None:
        while True:
            try:
                await self.measure()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the projection loop reports database failures; keep the last values
                log.debug("KPI projection lag not measured: %r", exc)
            await asyncio.sleep(self._interval)
