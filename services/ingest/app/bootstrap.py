"""The one place that wires the ingest: settings, validators, Kafka publisher and key store, at start-up."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.requests import ClientDisconnect

from services.common.garbage import tuned_gc
from services.common.keys import KeyStore
from services.common.observability import new_registry
from services.common.personal.person_keys import PersonKeys
from services.common.repeat_filter import throttle_loggers
from services.common.service import database, service_app, standard_checks
from services.common.unreachable import database_unreachable
from services.ingest.adapters.deliveries import DeliveryLedger
from services.ingest.adapters.library_files import development_library, load_library
from services.ingest.adapters.publisher import BrokerUnavailable, KafkaPublisher
from services.ingest.api import analytics_files, analytics_settings, connectors, events, segment
from services.ingest.api.cors import preflight_router
from services.ingest.api.cors_answer import cors_headers
from services.ingest.api.deadline import Deadline
from services.ingest.api.errors import RequestRefused, error_body, refused_handler
from services.ingest.api.openapi import install_openapi
from services.ingest.app.connector_intake import ConnectorIntake, ConnectorMetrics
from services.ingest.app.gc_tuning import YOUNG_THRESHOLD
from services.ingest.app.intake import Intake
from services.ingest.app.sealer import Sealer, personal_marks
from services.ingest.app.settings import IngestSettings
from services.ingest.app.start_checks import connector_key_problems
from services.ingest.domain.library_files import BUNDLE, LibraryFile
from services.ingest.domain.schemas import default_schemas_dir, load_validators, read_schema
from services.ingest.domain.validation import EventValidator

SCHEMAS_DIR = default_schemas_dir()
log = logging.getLogger(__name__)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    registry = new_registry()
    # aiokafka logs every turn of its retry loops while a broker is down: each message once per interval
    repeats = throttle_loggers(("aiokafka", KafkaPublisher.__module__), settings.failure_log_interval_seconds)
    validators = load_validators(SCHEMAS_DIR)
    validator = EventValidator(
        validators,
        reporting_currency=settings.reporting_currency,
        rates=settings.currency_rates,
        max_event_bytes=settings.max_event_bytes,
        personal_keys=settings.personal_keys,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(settings) as engine:
            publisher = KafkaPublisher(
                settings.kafka_bootstrap_servers,
                settings.events_topic,
                settings.kafka_send_timeout_seconds,
                registry,
                security=settings.kafka_security,
            )
            app.state.keys = KeyStore(
                engine, settings.key_cache_seconds, settings.key_fallback_seconds, settings.failure_log_interval_seconds
            )
            if settings.environment != "development" and settings.salesforce_organization_id is not None:
                if problems := connector_key_problems(settings, await app.state.keys.list()):
                    raise RuntimeError("; ".join(problems))
            # The key store keeps its connection between requests that follow each other within a second.
            person_keys = PersonKeys(engine, settings.master, settings.person_key_cache_seconds, linger_seconds=1.0)
            sealer = Sealer(
                person_keys, settings.hash_key, personal_marks(settings.personal_keys, settings.stage_model)
            )
            app.state.intake = Intake(validator, publisher, registry, sealer)
            app.state.deliveries = DeliveryLedger(engine)
            app.state.connectors = ConnectorIntake(app.state.intake, app.state.deliveries, app.state.connector_metrics)
            app.state.checks = standard_checks(settings, engine)
            app.state.library = _library(settings)
            try:
                with tuned_gc(YOUNG_THRESHOLD):
                    yield
            finally:
                await publisher.close()
                await person_keys.close()
                repeats.flush()

    app = service_app(
        title="stagetrack ingest",
        service="ingest",
        settings=settings,
        registry=registry,
        lifespan=lifespan,
        refusal=_refusal,
    )
    app.state.settings = settings
    app.include_router(events.router)
    app.include_router(segment.router)
    app.include_router(connectors.router)
    app.include_router(analytics_settings.router)
    app.include_router(analytics_files.router)
    app.include_router(preflight_router([*segment.POSTING_PATHS, "/sourceConfig", "/sourceConfig/"]))
    app.state.connector_metrics = ConnectorMetrics(registry)
    app.add_exception_handler(RequestRefused, refused_handler)
    app.add_exception_handler(BrokerUnavailable, _unavailable_handler(settings.retry_after_seconds))
    app.add_exception_handler(ClientDisconnect, _client_gone)
    # the connectors' delivery ledger (SQLAlchemy), the person keys' store (asyncpg's own errors)
    for database_error in (DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(database_error, _database_handler(settings.retry_after_seconds))
    app.add_middleware(Deadline, seconds=settings.request_timeout_seconds, retry_after=settings.retry_after_seconds)
    segment_call = read_schema(SCHEMAS_DIR / "segment-call.schema.json")
    install_openapi(app, validators, segment_call, settings)
    return app


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _library(settings: IngestSettings) -> dict[str, LibraryFile]:
    """analytics.js' files when the ingest serves them (settings.analytics_js_dir), else none."""
    folder = settings.analytics_js_dir
    if folder is None and settings.environment == "development":
        folder = development_library(Path.cwd())  # `make run` starts the services in the repository
    if folder is None:
        return {}
    files = load_library(folder)
    if BUNDLE not in files:
        raise RuntimeError(
            f"STAGETRACK_ANALYTICS_JS_DIR={folder} holds no {BUNDLE}: name @segment/analytics-next's dist/umd"
        )
    log.info("serving analytics.js from %s (%d files)", folder, len(files))
    return files


def _refusal(field: str, reason: str) -> dict[str, Any]:
    """The ingest's error shape for what the common client guard refuses (429, 408)."""
    return error_body(0, [{"index": None, "event_id": None, "field": field, "reason": reason}])


def _unavailable(request: Request, field: str, reason: str, retry_after: int) -> JSONResponse:
    error = {"index": None, "event_id": None, "field": field, "reason": reason}
    headers = cors_headers(request.scope, {"Retry-After": str(retry_after)})  # a page may read when to retry
    return JSONResponse(error_body(0, [error]), status_code=503, headers=headers)


def _unavailable_handler(retry_after: int) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        return _unavailable(request, "kafka", f"{exc}; retry with the same event ids (stored once)", retry_after)

    return handler


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up before its body arrived (often its own timeout during an outage): nobody reads this
    answer, and it is no server error to log with a traceback."""
    error = {"index": None, "event_id": None, "field": "body", "reason": "the client disconnected mid-body"}
    return JSONResponse(error_body(0, [error]), status_code=400)


def _database_handler(retry_after: int) -> Handler:
    """PostgreSQL out of reach in a route (the connectors' ledger) is a 503 to retry; any other error a 500."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not database_unreachable(exc):
            raise exc
        log.warning("PostgreSQL is out of reach during %s: %r", request.url.path, exc)
        reason = f"PostgreSQL is out of reach ({type(exc).__name__}); retry with the same event ids (stored once)"
        return _unavailable(request, "postgres", reason, retry_after)

    return handler
