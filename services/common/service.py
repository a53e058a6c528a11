"""What the three services' bootstraps share: the FastAPI shell with health, metrics and the basic checks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.common import db, kafka
from services.common.auth import AuthRefused
from services.common.auth_limits import AuthLimiter
from services.common.auth_report import AuthReport
from services.common.client_guard import ClientGuard, Refusal, detail_refusal
from services.common.http import ReadinessCheck, health_router
from services.common.keys import KeyStore
from services.common.observability import HttpMetrics
from services.common.read_access import ClosedPaths, closed_paths, refused_response
from services.common.settings import ServiceSettings
from services.common.slow_clients import CutOffCollector

log = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def service_app(
    *,
    title: str,
    service: str,
    settings: ServiceSettings,
    registry: CollectorRegistry,
    lifespan: Lifespan,
    refusal: Refusal = detail_refusal,
) -> FastAPI:
    """The shell: request metrics, /healthz, /readyz (checks in app.state.checks), /metrics, and the client
    guard (429 after repeated failed authentications, 408 for a late body) answering in `refusal`'s shape.
    A refused key (`AuthRefused`: 401, 403, 503) is answered in that shape too, and the operational paths
    left out of `settings.open_paths` need a key from `app.state.keys` (services/common/read_access.py)."""
    app = FastAPI(title=title, lifespan=lifespan)
    app.state.checks = {}
    app.add_exception_handler(AuthRefused, _refused_handler(refusal))
    if closed := closed_paths(settings.open_path_set):  # innermost: the guard counts its 401s and 403s
        app.add_middleware(ClosedPaths(closed, refusal).middleware)
    app.add_middleware(_client_guard(service, settings, registry, refusal).middleware)
    app.add_middleware(HttpMetrics(registry, service).middleware)
    if settings.trusted_proxy_list:  # outermost: everything inside sees the client named by the proxy
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    registry.register(CutOffCollector(service))
    app.include_router(health_router(lambda: app.state.checks, registry, settings.readiness_timeout_seconds))
    return app


def _refused_handler(refusal: Refusal) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthRefused)
        return refused_response(refusal, exc)

    return handler


def _client_guard(
    service: str, settings: ServiceSettings, registry: CollectorRegistry, refusal: Refusal
) -> ClientGuard:
    limiter = AuthLimiter(
        limit=settings.auth_failure_limit,
        window_seconds=settings.auth_failure_window_seconds,
        block_seconds=settings.auth_block_seconds,
        capacity=settings.auth_tracked_clients,
    )
    return ClientGuard(
        service=service,
        limiter=limiter,
        refusal=refusal,
        registry=registry,
        report=AuthReport(settings.failure_log_interval_seconds),
    )


def standard_checks(
    settings: ServiceSettings, engine: AsyncEngine, *, uses_kafka: bool = True
) -> dict[str, ReadinessCheck]:
    """PostgreSQL, and Kafka unless the service does not use it (the KPI service reads only PostgreSQL)."""

    async def kafka_check() -> None:
        await kafka.ping(
            settings.kafka_bootstrap_servers, settings.readiness_timeout_seconds, security=settings.kafka_security
        )

    async def postgres_check() -> None:
        await db.ping(engine)

    checks: dict[str, ReadinessCheck] = {"kafka": kafka_check} if uses_kafka else {}
    return {**checks, "postgres": postgres_check}


def key_store(settings: ServiceSettings, engine: AsyncEngine) -> KeyStore:
    """The service's API keys, from the key table in its own database schema, cached as the settings say."""
    return KeyStore(
        engine, settings.key_cache_seconds, settings.key_fallback_seconds, settings.failure_log_interval_seconds
    )


@contextlib.asynccontextmanager
async def database(settings: ServiceSettings, lock_timeout_seconds: float | None = None) -> AsyncIterator[AsyncEngine]:
    """Yields the service's database engine and disposes it on shutdown."""
    engine = db.create_engine(
        settings.database_url,
        settings.database_schema,
        lock_timeout_seconds=lock_timeout_seconds,
        tls=settings.database_tls,
    )
    try:
        yield engine
    finally:
        await engine.dispose()


async def stop_tasks(tasks: Sequence[asyncio.Task[None]], timeout_seconds: float = 10.0) -> None:
    """Cancels the background loops and waits a bounded time: a shutdown must never hang on a client library.

    A task still running after the deadline is logged with its stack and abandoned (the process is exiting).
    """
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout_seconds)
    for task in pending:
        stack = io.StringIO()
        task.print_stack(file=stack)
        name = task.get_name()
        log.error("%s did not stop within %.0f s; abandoning it:\n%s", name, timeout_seconds, stack.getvalue())
