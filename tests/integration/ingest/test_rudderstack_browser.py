"""RudderStack's JavaScript SDK without its CDN (docs/website.md): its source configuration from the ingest,
its per-call posts with the key in the Authorization header, and its beacon with the key in the query."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
import pytest

from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.conftest import Ingest
from tests.stack import consume

SITE = "https://www.example.jp"


def call(**fields: Any) -> dict[str, Any]:
    """A call as RudderStack's SDK 3.34 sends it: originalTimestamp, userId "" when anonymous, traits in context."""
    return {
        "type": "page",
        "messageId": str(uuid.uuid4()),
        "originalTimestamp": "2026-11-01T00:00:00.000Z",
        "sentAt": "2026-11-01T00:00:00.100Z",
        "anonymousId": "rs-anon-1",
        "userId": "",
        "properties": {"path": "/docs", "url": f"{SITE}/docs?ref=x", "referrer": "$direct"},
        "context": {"library": {"name": "RudderLabs JavaScript SDK", "version": "3.34.1"}, "sessionId": 17},
        **fields,
    }


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def in_kafka(settings: IngestSettings) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in await consume(settings, settings.events_topic, 0, within=5)]


@pytest.fixture
def page(ingest: Ingest) -> Ingest:
    del ingest.client.headers["Authorization"]
    return ingest


async def test_the_source_configuration_for_a_tracker_key(page: Ingest, key_store: KeyStore) -> None:
    key = await key_store.create("site", ("tracker",), (SITE,))
    query = f"/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey={key}&lockIntegrationsVersion=true"
    response = await page.client.get(query, headers={**basic(key), "Origin": SITE})
    assert response.status_code == 200, response.text
    assert response.json() == {"source": {"id": "stagetrack", "config": {}, "destinations": [], "enabled": True}}
    assert response.headers["access-control-allow-origin"] == SITE
    assert (await page.client.get(f"/sourceConfig/?writeKey={key}")).status_code == 200  # the query alone
    crm = await key_store.create("crm", ("crm",))
    assert (await page.client.get("/sourceConfig/", headers=basic(crm))).status_code == 404
    assert (await page.client.get("/sourceConfig/")).status_code == 404
    preflight = await page.client.options("/sourceConfig/", headers={"Origin": SITE})
    assert preflight.status_code == 204 and "GET" in preflight.headers["access-control-allow-methods"]


async def test_per_call_posts_and_the_beacon(page: Ingest, key_store: KeyStore) -> None:
    key = await key_store.create("site", ("tracker",), (SITE,))
    headers = {**basic(key), "Content-Type": "application/json;charset=UTF-8", "AnonymousId": "cnMtYW5vbi0x"}
    posted = call()
    response = await page.client.post("/v1/page", content=orjson.dumps(posted), headers={**headers, "Origin": SITE})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == SITE, response.text
    beaconed = call(type="track", event="Clicked CTA", properties={"cta": "demo"})
    beacon = orjson.dumps({"batch": [beaconed], "sentAt": "2026-11-01T00:00:00.200Z"})
    response = await page.client.post(
        f"/beacon/v1/batch?writeKey={key}", content=beacon, headers={"Content-Type": "text/plain", "Origin": SITE}
    )
    assert response.status_code == 200, response.text
    events = {e["event_id"]: e for e in await in_kafka(page.settings)}
    page_view = events[posted["messageId"]]
    assert page_view["lead_id"] is None and page_view["properties"] == {"path": "/docs", "url": f"{SITE}/docs"}
    assert events[beaconed["messageId"]]["type"] == "tracked"
    no_key = await page.client.post("/beacon/v1/batch", content=beacon, headers={"Content-Type": "text/plain"})
    assert no_key.status_code == 401


async def test_rudderstacks_preflight_headers_are_allowed(page: Ingest) -> None:
    asked = {"Origin": SITE, "Access-Control-Request-Headers": "anonymousid,authorization,content-type,sentat"}
    response = await page.client.options("/v1/page", headers={**asked, "Access-Control-Request-Method": "POST"})
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"anonymousid", "authorization", "content-type", "sentat"} <= allowed
