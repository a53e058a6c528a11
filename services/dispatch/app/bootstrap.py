"""The one place that wires the dispatcher: settings, engine, consumer, intake, SLA watch and deliverer, at start-up.

Three loops: the consumer takes in stagetrack.lead-events (intake: leads, deadlines, deliveries, offsets in one
transaction), the SLA watch fires the deadlines that passed, and the deliverer sends what they queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from services.common.loop_health import LoopHealth
from services.common.observability import new_registry
from services.common.service import database, key_store, service_app, standard_checks, stop_tasks
from services.dispatch.adapters.backlog_collector import BacklogCollector
from services.dispatch.adapters.http_sender import WebhookSender
from services.dispatch.adapters.lead_events_consumer import LeadEventsConsumer
from services.dispatch.adapters.metrics import DispatchMetrics
from services.dispatch.app.deliverer import Deliverer
from services.dispatch.app.intake import Intake
from services.dispatch.app.settings import DispatchSettings
from services.dispatch.app.sla_watch import SlaWatch
from services.dispatch.domain.model_rules import ModelRules


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    registry = new_registry()
    rules = ModelRules.of(settings.model)
    subscriptions = settings.subscriptions
    metrics = DispatchMetrics(registry, subscriptions.endpoints)
    horizon = timedelta(seconds=settings.dispatch_retry_horizon_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(settings) as engine:
            app.state.db = engine
            app.state.checks = standard_checks(settings, engine)
            app.state.keys = key_store(settings, engine)  # for the operational paths a deployment closes
            health = LoopHealth(
                "dispatch-consumer",
                registry,
                stall_after_seconds=settings.stall_after_seconds,
                brake_run=settings.set_aside_brake_run,
            )
            app.state.checks["consumer"] = health.readiness  # 503 naming the loop when stalled or braked
            sender = WebhookSender(
                settings.allowed_destinations,
                connect_timeout_seconds=settings.dispatch_connect_timeout_seconds,
                read_timeout_seconds=settings.dispatch_read_timeout_seconds,
                max_response_bytes=settings.dispatch_max_response_bytes,
                connections_per_host=settings.dispatch_max_in_flight_per_endpoint,
                connections=settings.dispatch_max_in_flight,
            )
            lease = settings.dispatch_connect_timeout_seconds + 2 * settings.dispatch_read_timeout_seconds + 10
            deliverer = Deliverer(
                engine,
                subscriptions,
                sender,
                metrics,
                retry=settings.retry_policy,
                pause=settings.pause_policy,
                max_in_flight=settings.dispatch_max_in_flight,
                per_endpoint=settings.dispatch_max_in_flight_per_endpoint,
                poll_seconds=settings.dispatch_poll_seconds,
                lease=timedelta(seconds=lease),
            )
            intake = Intake(
                engine,
                rules,
                subscriptions,
                lead_url_base=settings.dispatch_lead_url_base,
                group=settings.dispatch_consumer_group,
                topic=settings.lead_events_topic,
                horizon=horizon,
                lease=timedelta(seconds=lease),
                health=health,
                brake_run=settings.set_aside_brake_run,
                metrics=metrics,
                sending=deliverer,
            )
            consumer = LeadEventsConsumer(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                topic=settings.lead_events_topic,
                group_id=settings.dispatch_consumer_group,
                engine=engine,
                start_from=settings.dispatch_start_from,
                process=intake.process,
                health=health,
                max_records=settings.max_batch_records,
                failure_log_interval_seconds=settings.failure_log_interval_seconds,
                security=settings.kafka_security,
            )
            metrics.lag.set_function(consumer.lag)
            watch = SlaWatch(
                engine,
                rules,
                subscriptions,
                metrics,
                read_up_to=consumer.read_up_to,
                grace=timedelta(seconds=settings.dispatch_sla_grace_seconds),
                horizon=horizon,
                lead_url_base=settings.dispatch_lead_url_base,
                poll_seconds=settings.dispatch_poll_seconds,
                queued=deliverer.wake,
            )
            collector = BacklogCollector(engine, subscriptions.endpoints, settings.metrics_cache_seconds)
            registry.register(collector)
            app.state.before_scrape = collector.refresh
            tasks = [
                asyncio.create_task(consumer.run(), name="dispatch-consumer"),
                asyncio.create_task(watch.run(), name="dispatch-sla-watch"),
                asyncio.create_task(deliverer.run(), name="dispatch-deliverer"),
            ]
            try:
                yield
            finally:
                await stop_tasks(tasks)
                registry.unregister(collector)

    return service_app(
        title="stagetrack dispatch", service="dispatch", settings=settings, registry=registry, lifespan=lifespan
    )
