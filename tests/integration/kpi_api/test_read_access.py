"""Every /v1/kpi route needs a key with the `read:kpi` scope: 401 without a key or with an unknown one, 403 naming
the scope and the route with a key of another scope, 503 with Retry-After while the key store is out of reach.
/healthz, /readyz, /metrics, /docs and /openapi.json are open unless STAGETRACK_OPEN_PATHS leaves them out
(docs/security.md "Reads")."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.kpi.app.bootstrap import create_app
from services.kpi.app.settings import KpiSettings
from tests.integration.kpi_api.scenario import Scenario
from tests.integration.kpi_api.test_validation import ROUTES
from tests.keys import bearer, new_key

PERIOD = {"from": "2025-03-01", "to": "2025-03-02"}


@contextlib.asynccontextmanager
async def kpi(settings: ServiceSettings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The KPI app in-process; its client holds no key."""
    app = create_app(KpiSettings(database_schema=settings.database_schema, **overrides), run_projector=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kpi") as client:
            yield client


async def test_every_kpi_route_needs_a_read_kpi_key(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await Scenario().write(engine)
    reader, crm, lead_reader = [await new_key(engine, scope) for scope in ("read:kpi", "crm", "read:leads")]
    async with kpi(settings, auth_failure_limit=1000) as client:  # the refusals here are meant
        for route in ROUTES:
            missing = await client.get(route, params=PERIOD)
            unknown = await client.get(route, params=PERIOD, headers=bearer("stk_not-a-key"))
            wrong = [await client.get(route, params=PERIOD, headers=bearer(key)) for key in (crm, lead_reader)]
            right = await client.get(route, params=PERIOD, headers=bearer(reader))
            assert missing.status_code == 401, (route, missing.text)
            assert missing.headers["www-authenticate"] == "Bearer"
            assert missing.json()["detail"]["field"] == "authorization"
            assert unknown.status_code == 401 and "unknown or revoked" in unknown.json()["detail"]["reason"]
            template = route.replace("/mql/", "/{stage}/")
            for refused in wrong:
                assert refused.status_code == 403, (route, refused.text)
                reason = refused.json()["detail"]["reason"]
                assert "`read:kpi`" in reason and f"read {template}" in reason, reason
            assert right.status_code == 200, (route, right.text)


async def test_the_key_is_checked_before_the_parameters(settings: ServiceSettings, engine: AsyncEngine) -> None:
    """A stranger learns nothing about a route's parameters."""
    async with kpi(settings) as client:
        response = await client.get("/v1/kpi/stages", params={"from": "yesterday"})
    assert response.status_code == 401


async def test_503_with_retry_after_while_the_key_store_is_out_of_reach(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    unreachable = make_url(settings.database_url).set(port=1).render_as_string(hide_password=False)
    async with kpi(settings, database_url=unreachable) as client:
        response = await client.get("/v1/kpi/revenue", params=PERIOD, headers=bearer("stk_any"))
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["detail"]["field"] == "postgres"


async def test_operational_paths_are_open_by_default(settings: ServiceSettings, engine: AsyncEngine) -> None:
    async with kpi(settings) as client:
        answers = {path: (await client.get(path)).status_code for path in ("/healthz", "/metrics", "/docs")}
        document = (await client.get("/openapi.json")).json()
    assert answers == {"/healthz": 200, "/metrics": 200, "/docs": 200}
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    kpi_operations = [
        op for path, ops in document["paths"].items() if path.startswith("/v1/kpi") for op in ops.values()
    ]
    assert len(kpi_operations) == len(ROUTES)
    for operation in kpi_operations:
        assert operation["security"] == [{"bearer": []}], operation["summary"]
        assert {"401", "403", "503"} <= set(operation["responses"]), operation["summary"]


async def test_closed_operational_paths_need_a_key(settings: ServiceSettings, engine: AsyncEngine) -> None:
    """Closed: /healthz, /readyz and /metrics need `read:kpi` (monitoring's scope); /docs and /openapi.json any
    live key."""
    await Scenario().write(engine)
    reader, crm = await new_key(engine, "read:kpi"), await new_key(engine, "crm")
    paths = ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")
    async with kpi(settings, open_paths="/healthz") as client:

        async def answers(key: str | None) -> dict[str, int]:
            headers = bearer(key) if key else {}
            return {path: (await client.get(path, headers=headers)).status_code for path in paths}

        without, with_crm, with_reader = await answers(None), await answers(crm), await answers(reader)
        refused = await client.get("/metrics", headers=bearer(crm))
    assert without == {
        "/healthz": 200,
        "/readyz": 401,
        "/metrics": 401,
        "/docs": 401,
        "/redoc": 401,
        "/openapi.json": 401,
    }
    assert with_crm == {
        "/healthz": 200,
        "/readyz": 403,
        "/metrics": 403,
        "/docs": 200,
        "/redoc": 200,
        "/openapi.json": 200,
    }
    assert set(with_reader.values()) == {200}, with_reader
    assert "`read:kpi`" in refused.json()["detail"]["reason"] and "/metrics" in refused.json()["detail"]["reason"]


async def test_repeated_refused_reads_are_throttled(settings: ServiceSettings, engine: AsyncEngine) -> None:
    async with kpi(settings, auth_failure_limit=3) as client:
        statuses = [(await client.get("/v1/kpi/stages", params=PERIOD)).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
