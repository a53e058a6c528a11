"""The one place that wires the kpi service: settings, engines and clients are built here, at start-up."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.observability import new_registry
from services.common.service import database, service_app, standard_checks
from services.kpi.app.settings import KpiSettings


def create_app(settings: KpiSettings | None = None) -> FastAPI:
    settings = settings or KpiSettings()
    registry = new_registry()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(settings) as engine:
            app.state.checks = standard_checks(settings, engine)
            yield

    return service_app(title="stagetrack KPI", service="kpi", settings=settings, registry=registry, lifespan=lifespan)
