"""What the three services' bootstraps share: the FastAPI shell with health, metrics and the basic checks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db, kafka
from services.common.http import ReadinessCheck, health_router
from services.common.observability import HttpMetrics
from services.common.settings import ServiceSettings

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


def standard_checks(settings: ServiceSettings, engine: AsyncEngine) -> dict[str, ReadinessCheck]:
    async def kafka_check() -> None:
        await kafka.ping(settings.kafka_bootstrap_servers, settings.readiness_timeout_seconds)

    async def postgres_check() -> None:
        await db.ping(engine)

    return {"kafka": kafka_check, "postgres": postgres_check}


@contextlib.asynccontextmanager
async def database(settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    """Yields the service's database engine and disposes it on shutdown."""
    engine = db.create_engine(settings.database_url, settings.database_schema)
    try:
        yield engine
    finally:
        await engine.dispose()
