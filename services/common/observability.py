"""Logging and the per-service Prometheus registry with HTTP request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from starlette.requests import Request
from starlette.responses import Response


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")


class HttpMetrics:
    """Request counter and latency histogram, labelled by the route template (bounded), never the raw path."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter(
            "stagetrack_http_requests_total",
            "HTTP requests answered",
            ["service", "route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "stagetrack_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "route", "method"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_template(request)
            self.requests.labels(self.service, route, request.method, str(status)).inc()
            self.latency.labels(self.service, route, request.method).observe(time.perf_counter() - started)


def _route_template(request: Request) -> str:
    # The router records the matched route in the scope; its template keeps the label bounded.
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def new_registry() -> CollectorRegistry:
    """A registry of the service's own, with process metrics (RSS, CPU, fds) for the ops dashboards."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
