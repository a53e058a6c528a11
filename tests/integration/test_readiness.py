"""/readyz tells the truth about Kafka and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.ingest.app.bootstrap import create_app as ingest_app
from services.ingest.app.settings import IngestSettings
from services.kpi.app.bootstrap import create_app as kpi_app
from services.kpi.app.settings import KpiSettings
from services.stage_engine.app.bootstrap import create_app as engine_app
from services.stage_engine.app.settings import EngineSettings
from tests.stack import free_port


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)


@pytest.mark.parametrize(
    ("factory", "settings_cls"),
    [(ingest_app, IngestSettings), (engine_app, EngineSettings), (kpi_app, KpiSettings)],
)
async def test_ready_when_kafka_and_postgres_answer(stack: None, factory, settings_cls) -> None:  # type: ignore[no-untyped-def]
    response = await _get(factory(settings_cls()), "/readyz")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]  # the dependencies, and the service's own loops (the engine's consumer)
    assert checks["postgres"] == "ok" and set(checks.values()) == {"ok"}, checks


async def test_not_ready_names_the_dependency_that_does_not_answer(stack: None) -> None:
    settings = IngestSettings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", readiness_timeout_seconds=1.0)
    response = await _get(ingest_app(settings), "/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"] == "ok"
    assert checks["kafka"] != "ok"
