"""What the three services' bootstraps share: the FastAPI shell with health, metrics and the basic checks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db, kafka
from services.common.http import ReadinessCheck, health_router
from services.common.observability import HttpMetrics
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def service_app(
    *, title: str, service: str, settings: ServiceSettings, registry: CollectorRegistry, lifespan: Lifespan
) -> FastAPI:
    """The shell: request metrics, /healthz, /readyz (checks in app.state.checks), /metrics."""
    app = FastAPI(title=title, lifespan=lifespan)
    app.state.checks = {}
    app.add_middleware(HttpMetrics(registry, service).middleware)
    app.include_router(health_router(lambda: app.state.checks, registry, settings.readiness_timeout_seconds))
    return app


def standard_checks(
    settings: ServiceSettings, engine: AsyncEngine, *, uses_kafka: bool = True
) -> dict[str, ReadinessCheck]:
    """PostgreSQL, and Kafka unless the service does not use it (the KPI service reads only PostgreSQL)."""

    async def kafka_check() -> None:
        await kafka.ping(settings.kafka_bootstrap_servers, settings.readiness_timeout_seconds)

    async def postgres_check() -> None:
        await db.ping(engine)

    checks: dict[str, ReadinessCheck] = {"kafka": kafka_check} if uses_kafka else {}
    return {**checks, "postgres": postgres_check}


@contextlib.asynccontextmanager
async def database(settings: ServiceSettings, lock_timeout_seconds: float | None = None) -> AsyncIterator[AsyncEngine]:
    """Yields the service's database engine and disposes it on shutdown."""
    engine = db.create_engine(
        settings.database_url, settings.database_schema, lock_timeout_seconds=lock_timeout_seconds
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
