"""The engine's own metrics (the consumer's lag is in `adapters/backlog.py`, the loop's health in
`services/common/loop_health.py`):

    stagetrack_engine_events_total{outcome="applied"} 7335.0
    stagetrack_engine_events_total{outcome="duplicate"} 146.0
    stagetrack_engine_events_total{outcome="dead_lettered"} 0.0
    stagetrack_engine_batch_seconds_bucket{le="0.05"} 12.0
    stagetrack_engine_batch_retries_total 0.0
    stagetrack_engine_last_processed_timestamp_seconds 1.7651e+09

Each record taken from the events topic counts once, when the transaction that took it committed: `applied`
(stored), `duplicate` (its event id was stored before, or earlier in the same batch) or `dead_lettered`
(set aside on the dead-letter topic).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OUTCOMES = ("applied", "duplicate", "dead_lettered")


@dataclass
class EngineMetrics:
    events: Counter
    batch_seconds: Histogram
    last_event_time: Gauge
    conflicts: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> EngineMetrics:
        metrics = cls(
            events=Counter(
                "stagetrack_engine_events",
                "Records taken from stagetrack.events by outcome (applied, duplicate, dead_lettered)",
                ["outcome"],
                registry=registry,
            ),
            batch_seconds=Histogram(
                "stagetrack_engine_batch_seconds", "Time to make one consumed batch durable", registry=registry
            ),
            last_event_time=Gauge(
                "stagetrack_engine_last_processed_timestamp_seconds",
                "Wall-clock time of the last committed batch",
                registry=registry,
            ),
            conflicts=Counter(
                "stagetrack_engine_batch_retries", "Batches retried after a concurrency conflict", registry=registry
            ),
        )
        for outcome in OUTCOMES:  # exported from the start: an alert on increase() needs the zero
            metrics.events.labels(outcome)
        return metrics
