"""The one place that wires the kpi service: settings, engines and clients are built here, at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError

from services.common.observability import new_registry
from services.common.service import database, key_store, service_app, standard_checks, stop_tasks
from services.common.stage_model.model import default_model, load_model_file
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.collector import KpiCollector
from services.kpi.api import accounts, money, outlook, stages
from services.kpi.api.access import REFUSALS, read_kpi
from services.kpi.api.params import validation_error
from services.kpi.app.projector import Projector
from services.kpi.app.settings import KpiSettings


def load_configured_model(settings: KpiSettings) -> StageModel:
    """The engine's model file (STAGETRACK_STAGE_MODEL) or the shipped one, in the reporting currency."""
    currency = settings.reporting_currency
    if settings.stage_model:
        return load_model_file(settings.stage_model, currency=currency)
    return default_model().with_currency(currency)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: KpiSettings | None = None,
    *,
    clock: Callable[[], datetime] = _utc_now,
    run_projector: bool = True,
) -> FastAPI:
    """`clock` is the API's "now" (age of the balance, overdue now); tests fix it. `run_projector=False`
    serves the API over projections something else fills (tests that write the tables themselves)."""
    settings = settings or KpiSettings()
    registry = new_registry()
    model = load_configured_model(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(settings) as engine:
            app.state.db = engine
            app.state.model = model
            app.state.settings = settings
            app.state.clock = clock
            # Only what the KPI service uses: PostgreSQL (it reads the event store there, not Kafka) and the
            # projector (503 naming it when it is stalled or braked).
            app.state.checks = standard_checks(settings, engine, uses_kafka=False)
            app.state.keys = key_store(settings, engine)  # every /v1/kpi route needs a `read:kpi` key
            tasks: list[asyncio.Task[None]] = []
            # Hook (a): the projector keeps the projection tables up to date with the event store.
            if run_projector:
                projector = Projector(
                    engine,
                    model,
                    registry,
                    stall_after_seconds=settings.stall_after_seconds,
                    brake_run=settings.set_aside_brake_run,
                    failure_log_interval_seconds=settings.failure_log_interval_seconds,
                )
                app.state.checks["projector"] = projector.health.readiness
                tasks.append(asyncio.create_task(projector.run(), name="kpi-projector"))
            # The Prometheus collector reads the projections at scrape time (cached metrics_cache_seconds).
            collector = KpiCollector(engine, model, settings.metrics_cache_seconds)
            registry.register(collector)
            app.state.before_scrape = collector.refresh
            try:
                yield
            finally:
                registry.unregister(collector)
                await stop_tasks(tasks)

    app = service_app(title="stagetrack KPI", service="kpi", settings=settings, registry=registry, lifespan=lifespan)
    for router in (stages.router, money.router, outlook.router, accounts.router):
        app.include_router(router, dependencies=[Depends(read_kpi)], responses=REFUSALS)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app
