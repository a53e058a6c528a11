"""The one place that wires the stage engine: settings, model, store, consumer, outbox, at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.garbage import tuned_gc
from services.common.loop_health import LoopHealth
from services.common.observability import new_registry
from services.common.service import database, key_store, service_app, standard_checks, stop_tasks
from services.common.stage_model.model import model_or_default
from services.common.stage_model.model_types import StageModel
from services.stage_engine.adapters.consumer import EventsConsumer
from services.stage_engine.adapters.dead_letters import DeadLetters
from services.stage_engine.adapters.store import EventStore
from services.stage_engine.api import accounts, leads, privacy
from services.stage_engine.app.garbage import YOUNG_THRESHOLD
from services.stage_engine.app.outbox_process import OutboxProcess
from services.stage_engine.app.processor import BatchProcessor, EngineMetrics
from services.stage_engine.app.settings import EngineSettings


def load_configured_model(settings: EngineSettings) -> StageModel:
    """The deployment's model file, or the shipped one; an invalid file stops the start with line and reason."""
    return model_or_default(settings.stage_model)


def create_app(settings: EngineSettings | None = None, *, publish_lead_events: bool = True) -> FastAPI:
    """The engine's app. `publish_lead_events=False` leaves out the outbox's child process that publishes
    stagetrack.lead-events (`app/outbox_process.py`): the benchmark's consume -> rules -> commit pass."""
    settings = settings or EngineSettings()
    registry = new_registry()
    model = load_configured_model(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(settings, settings.lock_timeout_seconds) as engine:
            app.state.db = engine
            app.state.model = model
            app.state.settings = settings
            app.state.checks = standard_checks(settings, engine)
            app.state.keys = key_store(settings, engine)  # reads need a `read:leads` key
            tasks: list[asyncio.Task[None]] = []
            store = EventStore(engine, keep_connections=True)
            dead_letters = DeadLetters(
                settings.kafka_bootstrap_servers, settings.dead_letter_topic, security=settings.kafka_security
            )
            if settings.run_consumer:
                health = LoopHealth(
                    "engine-consumer",
                    registry,
                    stall_after_seconds=settings.stall_after_seconds,
                    brake_run=settings.set_aside_brake_run,
                )
                app.state.checks["consumer"] = health.readiness  # 503 naming the loop when stalled or braked
                processor = BatchProcessor(
                    store,
                    model,
                    settings.hash_key,
                    dead_letters,
                    settings.consumer_group,
                    EngineMetrics.register(registry),
                    health,
                )
                consumer = EventsConsumer(
                    settings.kafka_bootstrap_servers,
                    settings.events_topic,
                    settings.consumer_group,
                    store,
                    processor.process,
                    registry,
                    health,
                    settings.max_batch_records,
                    settings.failure_log_interval_seconds,
                    security=settings.kafka_security,
                )
                tasks = [asyncio.create_task(consumer.run(), name="events-consumer")]
                if publish_lead_events:
                    outbox = OutboxProcess(settings, registry)
                    tasks.append(asyncio.create_task(outbox.run(), name="outbox-process"))
            try:
                with tuned_gc(YOUNG_THRESHOLD):
                    yield
            finally:
                await stop_tasks(tasks)
                await store.close()
                if settings.run_consumer:
                    await asyncio.wait_for(dead_letters.stop(), timeout=10)

    app = service_app(
        title="stagetrack stage engine", service="engine", settings=settings, registry=registry, lifespan=lifespan
    )
    app.include_router(leads.router)
    app.include_router(accounts.router)
    app.include_router(privacy.router)
    return app
