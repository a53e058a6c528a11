"""The KPI service's Prometheus collector: THE MODEL's numbers, read from the projection tables.

The numbers live in PostgreSQL, not in the process, so they survive restarts and replays and every replica
shows the same. `refresh()` (async, awaited by /metrics before it renders; see services/common/http.py) reads
the aggregates at most once per `cache_seconds` in one REPEATABLE READ transaction; `collect()` is sync and
only renders the cached snapshot. A failed or slow refresh keeps the last snapshot, counts the failure and
shows its age. Wiring (services/kpi/app/bootstrap.py, in the lifespan, once the engine exists):

    collector = KpiCollector(engine, model, settings.metrics_cache_seconds)
    registry.register(collector)
    app.state.before_scrape = collector.refresh

Exposition (the-model; every stage, division and kind of the model is present, zero when empty):
    # TYPE stagetrack_stage_leads gauge
    stagetrack_stage_leads{division="marketing",stage="mql"} 412.0
    # TYPE stagetrack_stage_entries_total counter
    stagetrack_stage_entries_total{division="marketing",stage="mql"} 5120.0
    # TYPE stagetrack_stage_transitions_total counter
    stagetrack_stage_transitions_total{from_stage="none",to_stage="visitor"} 9800.0
    stagetrack_stage_transitions_total{from_stage="mql",to_stage="sal"} 2210.0
    # TYPE stagetrack_stage_overdue_leads gauge
    stagetrack_stage_overdue_leads{stage="mql"} 17.0
    # TYPE stagetrack_time_in_stage_seconds histogram
    stagetrack_time_in_stage_seconds_bucket{le="3600.0",stage="mql"} 120.0
    ...
    stagetrack_time_in_stage_seconds_bucket{le="+Inf",stage="mql"} 4600.0
    stagetrack_time_in_stage_seconds_count{stage="mql"} 4600.0
    stagetrack_time_in_stage_seconds_sum{stage="mql"} 6.1e+08
    # TYPE stagetrack_revenue_total counter
    stagetrack_revenue_total{kind="new"} 1.2e+09
    # TYPE stagetrack_revenue_bookings_total counter
    stagetrack_revenue_bookings_total{kind="new"} 310.0
    # TYPE stagetrack_revenue_attributed_total counter
    stagetrack_revenue_attributed_total{division="field_sales",kind="new"} 4.8e+08
    # TYPE stagetrack_feedback_rating summary
    stagetrack_feedback_rating_count{about="meeting",from_division="field_sales",to_division="inside_sales"} 40.0
    stagetrack_feedback_rating_sum{about="meeting",from_division="field_sales",to_division="inside_sales"} 151.0
    # TYPE stagetrack_feedback_expectations_total counter
    stagetrack_feedback_expectations_total{about="meeting",from_division="field_sales",met="true",...} 31.0
    # TYPE stagetrack_stage_leads_by_slice gauge  (and the other families per slice: domain/slice_metrics.py)
    stagetrack_stage_leads_by_slice{dimension="source",stage="mql",value="google"} 41.0
    # TYPE stagetrack_kpi_metrics_skipped_rows gauge
    stagetrack_kpi_metrics_skipped_rows{table="kpi_stays"} 0.0
    # TYPE stagetrack_kpi_metrics_refresh_failures_total counter
    stagetrack_kpi_metrics_refresh_failures_total 0.0
    # TYPE stagetrack_kpi_metrics_refreshed_timestamp_seconds gauge
    stagetrack_kpi_metrics_refreshed_timestamp_seconds 1.7646e+09
    # TYPE stagetrack_kpi_metrics_refresh_duration_seconds gauge
    stagetrack_kpi_metrics_refresh_duration_seconds 0.012
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.collector_queries import read_snapshot
from services.kpi.domain.kpi_metrics import Family, KpiSnapshot, check_model, families
from services.kpi.domain.slice_metrics import SliceSnapshot, slice_families

log = logging.getLogger(__name__)


class KpiCollector(Collector):
    def __init__(
        self,
        engine: AsyncEngine,
        model: StageModel,
        cache_seconds: float,
        *,
        timeout_seconds: float = 8.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_model(model)
        self._engine = engine
        self._model = model
        self._cache_seconds = cache_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._families: list[Family] | None = None
        self._refreshed_at: float | None = None  # time.monotonic() of the snapshot served
        self._snapshot_time = 0.0  # clock() of the snapshot served
        self._duration = 0.0
        self._failures = 0

    async def refresh(self) -> None:
        """Reads the projections unless the cached snapshot is younger than `cache_seconds`. Never raises."""
        async with self._lock:  # concurrent scrapes wait for one refresh and then share it
            if self._refreshed_at is not None and time.monotonic() - self._refreshed_at < self._cache_seconds:
                return
            started = time.monotonic()
            now = self._clock()
            try:
                async with asyncio.timeout(self._timeout):
                    snapshot, slices = await read_snapshot(self._engine, datetime.fromtimestamp(now, UTC), self._model)
                self._families = families(snapshot, self._model) + slice_families(slices, self._model)
            except Exception:  # PostgreSQL away or slow: keep serving the last snapshot, counted and dated
                self._failures += 1
                log.exception("KPI metrics refresh failed; serving the snapshot of %s", self._snapshot_time or "never")
                return
            self._refreshed_at = time.monotonic()
            self._snapshot_time = now
            self._duration = self._refreshed_at - started

    def describe(self) -> Iterator[Metric]:
        """The names only, so registering does not read the database."""
        for family in families_template(self._model):
            yield Metric(family.name, family.help, family.kind)
        yield from self._health()

    def collect(self) -> Iterator[Metric]:
        for family in self._families or ():  # no snapshot yet: the KPI families are absent, not zero
            yield to_metric(family)
        yield from self._health()

    def _health(self) -> Iterator[Metric]:
        failures = Metric(
            "stagetrack_kpi_metrics_refresh_failures",
            "KPI metric refreshes that failed (last snapshot kept)",
            "counter",
        )
        failures.add_sample("stagetrack_kpi_metrics_refresh_failures_total", {}, self._failures)
        refreshed = Metric(
            "stagetrack_kpi_metrics_refreshed_timestamp_seconds",
            "Wall-clock time the KPI metrics were read from the projections (0: never)",
            "gauge",
        )
        refreshed.add_sample(refreshed.name, {}, self._snapshot_time)
        duration = Metric(
            "stagetrack_kpi_metrics_refresh_duration_seconds", "Time the last KPI metrics refresh took", "gauge"
        )
        duration.add_sample(duration.name, {}, self._duration)
        yield from (failures, refreshed, duration)


def to_metric(family: Family) -> Metric:
    metric = Metric(family.name, family.help, family.kind)
    for sample in family.samples:
        metric.add_sample(sample.name, dict(sample.labels), sample.value)
    return metric


def families_template(model: StageModel) -> list[Family]:
    """The families with their names, types and help, from an empty snapshot (for `describe`)."""
    return families(KpiSnapshot(), model) + slice_families(SliceSnapshot(), model)
