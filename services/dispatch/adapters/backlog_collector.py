"""What waits, read from PostgreSQL at scrape time (every replica shows the same; restarts lose nothing).

`refresh()` is awaited by /metrics before it renders (app.state.before_scrape), at most once per
`cache_seconds`; a failed refresh keeps the last numbers. Every configured endpoint is present, zero when idle:
    stagetrack_dispatch_pending_deliveries{endpoint="crm"} 3.0
    stagetrack_dispatch_oldest_pending_age_seconds{endpoint="crm"} 12.5     (0 when none waits)
    stagetrack_dispatch_dead_lettered_deliveries{endpoint="crm"} 1.0        (failed, waiting for a resend)
    stagetrack_dispatch_open_sla_deadlines 42.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.dispatch.adapters.metrics import UNCONFIGURED

log = logging.getLogger(__name__)


@dataclass
class _Backlog:
    pending: dict[str, float] = field(default_factory=dict)
    oldest_age: dict[str, float] = field(default_factory=dict)
    failed: dict[str, float] = field(default_factory=dict)
    deadlines: float = 0.0


class BacklogCollector(Collector):
    def __init__(self, engine: AsyncEngine, endpoints: Iterable[str], cache_seconds: float) -> None:
        self._engine = engine
        self._endpoints = sorted(endpoints)
        self._cache = cache_seconds
        self._read_at = float("-inf")
        self._backlog = _Backlog()

    async def refresh(self) -> None:
        if time.monotonic() - self._read_at < self._cache:
            return
        try:
            self._backlog = await self._read()
            self._read_at = time.monotonic()
        except Exception as exc:  # the last numbers stay; the scrape still answers
            log.warning("could not read the dispatch backlog: %r", exc)

    async def _read(self) -> _Backlog:
        backlog = _Backlog()
        async with self._engine.connect() as sa_conn:
            conn = await raw_connection(sa_conn)
            rows = await conn.fetch(
                "SELECT endpoint, state, count(*) AS n, "
                "extract(epoch FROM now() - min(recorded_at)) AS age FROM dispatch_deliveries "
                "WHERE state IN ('pending', 'failed') GROUP BY endpoint, state"
            )
            backlog.deadlines = float(await conn.fetchval("SELECT count(*) FROM dispatch_sla_deadlines"))
        for row in rows:
            endpoint = row["endpoint"] if row["endpoint"] in self._endpoints else UNCONFIGURED
            if row["state"] == "pending":
                backlog.pending[endpoint] = backlog.pending.get(endpoint, 0.0) + row["n"]
                age = max(float(row["age"] or 0.0), 0.0)
                backlog.oldest_age[endpoint] = max(backlog.oldest_age.get(endpoint, 0.0), age)
            else:
                backlog.failed[endpoint] = backlog.failed.get(endpoint, 0.0) + row["n"]
        return backlog

    def collect(self) -> Iterator[Metric]:
        b = self._backlog
        names = [*self._endpoints, *(e for e in (UNCONFIGURED,) if e in b.pending or e in b.failed)]
        for name, help_text, values in (
            ("stagetrack_dispatch_pending_deliveries", "Deliveries queued and not yet delivered", b.pending),
            (
                "stagetrack_dispatch_oldest_pending_age_seconds",
                "Age of the oldest pending delivery's moment (0 when none waits)",
                b.oldest_age,
            ),
            ("stagetrack_dispatch_dead_lettered_deliveries", "Dead-lettered deliveries awaiting a resend", b.failed),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["endpoint"])
            for endpoint in names:
                family.add_metric([endpoint], values.get(endpoint, 0.0))
            yield family
        yield GaugeMetricFamily(
            "stagetrack_dispatch_open_sla_deadlines", "SLA deadlines the dispatcher watches", value=b.deadlines
        )
