"""`from`/`to` are checked on every /v1/kpi route: 422 naming the parameter and the reason."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.kpi.app.bootstrap import create_app
from services.kpi.app.settings import KpiSettings
from tests.integration.kpi_api.scenario import T0, Scenario, kpi_client

ROUTES = [
    "/v1/kpi/stages",
    "/v1/kpi/stages/mql/balance",
    "/v1/kpi/revenue",
    "/v1/kpi/customer-success",
    "/v1/kpi/feedback",
    "/v1/kpi/bottleneck",
    "/v1/kpi/forecast",
    "/v1/kpi/accounts",
]


@pytest.mark.parametrize("route", ROUTES)
async def test_every_route_checks_the_period(settings: ServiceSettings, engine: AsyncEngine, route: str) -> None:
    await Scenario().write(engine)
    async with kpi_client(settings, T0) as client:
        missing = await client.get(route)
        backwards = await client.get(route, params={"from": "2025-03-02", "to": "2025-03-01"})
        fine = await client.get(route, params={"from": "2025-03-01", "to": "2025-03-02T00:00:00Z"})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["detail"]] == ["from", "to"]
    assert "required" in missing.json()["detail"][0]["reason"]
    assert backwards.status_code == 422
    assert backwards.json()["detail"] == [
        {"field": "to", "reason": "must be later than from (2025-03-02T00:00:00+00:00), got 2025-03-01T00:00:00+00:00"}
    ]
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        ("2025-02-30", "2025-03-02", "from", "not a calendar date"),
        ("yesterday", "2025-03-02", "from", "neither a timestamp nor a date"),
        ("2025-03-01T00:00:00", "2025-03-02", "from", "no UTC offset"),
        ("2025-03-01", "2025-03-01T25:00:00Z", "to", "out of range"),
        ("2025-03-01", "2025-03-01", "to", "must be later than from"),
    ],
)
async def test_the_reason_in_plain_words(
    settings: ServiceSettings, engine: AsyncEngine, start: str, end: str, field: str, words: str
) -> None:
    async with kpi_client(settings, T0) as client:
        response = await client.get("/v1/kpi/feedback", params={"from": start, "to": end})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == field and words in error["reason"], error


async def test_offsets_dates_and_an_unencoded_plus(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await Scenario().write(engine)
    async with kpi_client(settings, T0, reporting_timezone="Asia/Tokyo") as client:
        # A "+" typed into a URL arrives as a space: read as the offset it was.
        plus = await client.get("/v1/kpi/feedback?from=2025-03-01T09:00:00+09:00&to=2025-03-02")
        too_long = await client.get("/v1/kpi/stages/mql/balance", params={"from": "2000-01-01", "to": "2025-01-01"})
        trailing = await client.get(
            "/v1/kpi/bottleneck", params={"from": "2025-03-01", "to": "2025-03-02", "trailing": 0}
        )
    assert plus.status_code == 200, plus.text
    assert plus.json()["from"] == "2025-03-01T09:00:00+09:00" and plus.json()["to"] == "2025-03-02T00:00:00+09:00"
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == [{"field": "to", "reason": "the period may span at most 3660 days"}]
    assert trailing.status_code == 422
    assert trailing.json()["detail"][0]["field"] == "trailing"


async def test_the_app_starts_the_projector_and_stops_it(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await Scenario().write(engine)
    app = create_app(KpiSettings(database_schema=settings.database_schema), clock=lambda: T0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kpi") as client:
            metrics = await client.get("/metrics")
            ready = await client.get("/readyz")
    assert "stagetrack_kpi_projected_position" in metrics.text  # the projector registered its gauges
    assert ready.status_code == 200, ready.text
