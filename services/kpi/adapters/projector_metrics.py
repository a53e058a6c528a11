"""The projector's own metrics (the KPI service's registry); names and meanings in docs/kpi.md "Metrics".

stagetrack_kpi_projected_position 48211.0
stagetrack_kpi_projection_lag_events 0.0
stagetrack_kpi_last_projected_timestamp_seconds 1.7646e+09
stagetrack_kpi_projected_events_total 48211.0
stagetrack_kpi_projection_failures_total 0.0
stagetrack_kpi_projection_anomalies_total 0.0
stagetrack_kpi_set_aside_total 0.0
stagetrack_kpi_set_aside_records 0.0
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge


class ProjectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag_events = 0  # the last lag measured, for the stall check (LoopHealth's `pending`)
        self.position = Gauge(
            "stagetrack_kpi_projected_position", "Store position the KPI projections include", registry=registry
        )
        self.lag = Gauge(
            "stagetrack_kpi_projection_lag_events",
            "Store head position minus the projected position (events not yet in the KPIs), measured apart from "
            "the projection's own transaction so it stays true while the projector fails or waits",
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
            "stagetrack_kpi_projection_failures",
            "Projection transactions that failed (retried from the checkpoint, or split to find a record)",
            registry=registry,
        )
        self.anomalies = Counter(
            "stagetrack_kpi_projection_anomalies",
            "Records inconsistent with one open stay per lead (logged; the position is still applied)",
            registry=registry,
        )
        self.set_aside = Counter(
            "stagetrack_kpi_set_aside",
            "Store records the projections could not hold, recorded in kpi_set_aside and passed over",
            registry=registry,
        )
        self.set_aside_records = Gauge(
            "stagetrack_kpi_set_aside_records",
            "Records in kpi_set_aside now (waiting for `stagetrack dead-letters redrive`)",
            registry=registry,
        )

    def observe(self, head: int, position: int, set_aside_records: int | None = None) -> None:
        """The store head and the committed checkpoint, read together."""
        self.lag_events = max(head - position, 0)
        self.lag.set(self.lag_events)
        self.position.set(position)
        if self.lag_events == 0:
            self.last.set(time.time())
        if set_aside_records is not None:
            self.set_aside_records.set(set_aside_records)

    def advanced(self) -> None:
        self.last.set(time.time())
