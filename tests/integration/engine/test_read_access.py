"""GET /v1/leads/{id} names the CRM id behind an anonymous visitor, so it needs a key with the `read:leads` scope:
401 without a key or with an unknown one, 403 naming the scope and the route with a key of another scope, 503
with Retry-After while the key store is out of reach (docs/security.md "Reads")."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.keys import bearer, new_key
from tests.stack import eventually, unique


@contextlib.asynccontextmanager
async def engine_app(settings: EngineSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The engine in-process; its client holds no key."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as client:
            yield client


async def test_a_lead_is_read_only_with_a_read_leads_key(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    reader, crm, kpi_reader = [await new_key(engine, scope) for scope in ("read:leads", "crm", "read:kpi")]
    visitor, lead = unique("anon"), unique("crm")
    at = "2026-10-01T09:00:00+00:00"
    await producer.send(
        [envelope(unique("e"), "form_submitted", at, anonymous_id=visitor, lead_id=lead, form_id="f", email="u@x.io")]
    )
    async with engine_app(engine_settings) as client:

        async def found() -> httpx.Response | None:
            response = await client.get(f"/v1/leads/{visitor}", headers=bearer(reader))
            return response if response.status_code == 200 else None

        answer = await eventually(found, 30, "the visitor's lead, read with a read:leads key")
        missing = await client.get(f"/v1/leads/{visitor}")
        unknown = await client.get(f"/v1/leads/{visitor}", headers=bearer("stk_not-a-key"))
        wrong = [await client.get(f"/v1/leads/{visitor}", headers=bearer(key)) for key in (crm, kpi_reader)]
    assert answer.json()["crm_ids"] == [lead]
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"]["field"] == "authorization"
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.json()["detail"]["reason"]
    for refused in wrong:
        assert refused.status_code == 403, refused.text
        reason = refused.json()["detail"]["reason"]
        assert "`read:leads`" in reason and "read /v1/leads/{lead_id}" in reason, reason
        assert lead not in refused.text


async def test_503_with_retry_after_while_the_key_store_is_out_of_reach(engine_settings: EngineSettings) -> None:
    unreachable = make_url(engine_settings.database_url).set(port=1).render_as_string(hide_password=False)
    settings = engine_settings.model_copy(update={"database_url": unreachable, "run_consumer": False})
    async with engine_app(settings) as client:
        response = await client.get("/v1/leads/anyone", headers=bearer("stk_any"))
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["detail"]["field"] == "postgres"


async def test_the_openapi_document_declares_the_bearer_key(engine_settings: EngineSettings) -> None:
    async with engine_app(engine_settings.model_copy(update={"run_consumer": False})) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    routes = [(path, op) for path, ops in document["paths"].items() if path.startswith("/v1/") for op in ops.values()]
    assert "/v1/leads/{lead_id}" in document["paths"]
    for path, operation in routes:  # every route of the engine, those to come included
        assert operation["security"] == [{"bearer": []}], operation["summary"]
        assert {"401", "403", "503"} <= set(operation["responses"]), operation["summary"]
        scope = "erase" if path in ("/v1/erasures", "/v1/exports") else "read:leads"  # docs/privacy.md
        assert scope in operation["responses"]["403"]["description"]
