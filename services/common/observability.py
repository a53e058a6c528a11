"""Logging and the per-service Prometheus registry with HTTP request metrics."""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs several µs per request)."""

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_and_note(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_and_note)
            finally:
                route = str(getattr(scope.get("route"), "path", "unmatched"))  # the template: bounded labels
                method = scope["method"]
                self.requests.labels(self.service, route, method, str(status)).inc()
                self.latency.labels(self.service, route, method).observe(time.perf_counter() - started)

        return measured


def new_registry() -> CollectorRegistry:
    """A registry of the service's own, with process metrics (RSS, CPU, fds) for the ops dashboards."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
