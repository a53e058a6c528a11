"""The dispatcher's own metrics. `endpoint` label values are the endpoint names of the subscriptions file
(bounded by it; a delivery queued for an endpoint since removed from the file counts as "unconfigured").

    stagetrack_dispatch_deliveries_total{endpoint="crm",outcome="delivered"} 12.0        (outcome: delivered |
        dead_lettered)
    stagetrack_dispatch_attempts_total{endpoint="crm",result="http_5xx"} 3.0           (result: success, http_3xx,
        http_4xx, http_429, http_5xx, timeout, connection, refused_destination)
    stagetrack_dispatch_delivery_latency_seconds_bucket{endpoint="crm",le="1.0"} 11.0   (moment recorded -> 2xx)
    stagetrack_dispatch_moments_total{kind="stage_entered"} 40.0                       (queued, per kind)
    stagetrack_dispatch_set_aside_total 0.0                                            (unreadable lead events)
    stagetrack_dispatch_endpoint_paused{endpoint="crm"} 0.0
    stagetrack_dispatch_consumer_lag_records 0.0
The pending and dead-lettered counts and the oldest pending age are read from PostgreSQL at scrape time
(`adapters/backlog_collector.py`), so they survive restarts and count every replica's deliveries once.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UNCONFIGURED = "unconfigured"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400)


class DispatchMetrics:
    def __init__(self, registry: CollectorRegistry, endpoints: Iterable[str]) -> None:
        self.endpoints = frozenset(endpoints)
        self.deliveries = Counter(
            "stagetrack_dispatch_deliveries_total",
            "Deliveries finished: delivered (2xx) or dead-lettered (gave up)",
            ["endpoint", "outcome"],
            registry=registry,
        )
        self.attempts = Counter(
            "stagetrack_dispatch_attempts_total",
            "Delivery attempts by result",
            ["endpoint", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "stagetrack_dispatch_delivery_latency_seconds",
            "From the moment recorded (the lead event published, the deadline found passed) to the receiver's 2xx",
            ["endpoint"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.moments = Counter(
            "stagetrack_dispatch_moments_total",
            "Moments queued for at least one endpoint, by kind",
            ["kind"],
            registry=registry,
        )
        self.set_aside = Counter(
            "stagetrack_dispatch_set_aside_total",
            "Lead-event records the dispatcher could not read, set aside",
            registry=registry,
        )
        self.paused = Gauge(
            "stagetrack_dispatch_endpoint_paused",
            "1 while the endpoint is paused after failing for long",
            ["endpoint"],
            registry=registry,
        )
        self.lag = Gauge(
            "stagetrack_dispatch_consumer_lag_records",
            "Lead-event records published but not yet taken in by this dispatcher",
            registry=registry,
        )
        for endpoint in self.endpoints:
            self.paused.labels(endpoint).set(0)
            for outcome in ("delivered", "dead_lettered"):
                self.deliveries.labels(endpoint, outcome)

    def label(self, endpoint: str) -> str:
        return endpoint if endpoint in self.endpoints else UNCONFIGURED


def attempt_result(status: int | None, error: str | None, refused: bool) -> str:
    if refused:
        return "refused_destination"
    if status is None:
        return "timeout" if error and error.startswith("timeout") else "connection"
    if 200 <= status <= 299:
        return "success"
    if status == 429:
        return "http_429"
    return f"http_{status // 100}xx" if 300 <= status <= 599 else "http_other"
