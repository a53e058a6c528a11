"""What analytics.js sends from a page (docs/ingest-http.md, "analytics.js"), through a real ingest and Kafka:
the short paths and /v1/b with `text/plain` bodies and the write key inside, CORS by the key's origins, and
what an anonymous view keeps (docs/privacy.md)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
import pytest

from services.common.api_keys import NewKey
from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.conftest import Ingest
from tests.stack import consume

SITE = "https://www.example.jp"
CHROME_ON_ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36"
TEXT = {"Content-Type": "text/plain"}


def page_call(write_key: str, **fields: Any) -> dict[str, Any]:
    """A page call as analytics.js 1.84 posts it to /v1/p (standard delivery)."""
    return {
        "type": "page",
        "messageId": f"ajs-next-{uuid.uuid4()}",
        "timestamp": "2026-11-01T00:00:00.000Z",
        "sentAt": "2026-11-01T00:00:00.050Z",
        "anonymousId": "4f2a9c1e-anon",
        "properties": {
            "path": "/pricing",
            "url": f"{SITE}/pricing?utm_source=news&utm_campaign=autumn&member=hanako%40example.co.jp",
            "search": "?utm_source=news&utm_campaign=autumn&member=hanako%40example.co.jp",
            "referrer": "https://www.google.com/search?q=stagetrack+pricing",
            "title": "Pricing",
        },
        "context": {
            "ip": "203.0.113.7",
            "userAgent": CHROME_ON_ANDROID,
            "userAgentData": {"brands": [{"brand": "Chromium", "version": "124"}], "mobile": True},
            "locale": "ja-JP",
            "timezone": "Asia/Tokyo",
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
            "campaign": {"source": "news", "name": "autumn"},
            "page": {"path": "/pricing", "url": f"{SITE}/pricing"},
        },
        "integrations": {},
        "writeKey": write_key,
        **fields,
    }


def body(value: object) -> bytes:
    return orjson.dumps(value)


async def in_kafka(settings: IngestSettings) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in await consume(settings, settings.events_topic, 0, within=5)]


@pytest.fixture
async def tracker(key_store: KeyStore) -> NewKey:
    return await key_store.create_key("site", ("tracker",), (f"{SITE}/",))  # a trailing slash, as people type it


@pytest.fixture
def page(ingest: Ingest) -> Ingest:
    """The ingest as a page's script reaches it: no Authorization header unless a test sends one."""
    del ingest.client.headers["Authorization"]
    return ingest


async def test_a_page_view_posted_as_analytics_js_does_lands_without_what_identifies(
    page: Ingest, tracker: NewKey
) -> None:
    call = page_call(tracker.key)
    response = await page.client.post("/v1/p", content=body(call), headers={**TEXT, "Origin": SITE})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SITE and response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers and "set-cookie" not in response.headers
    [published] = await in_kafka(page.settings)
    assert (published["type"], published["event_id"], published["source"]) == ("page_viewed", call["messageId"], "site")
    assert published["properties"] == {
        "path": "/pricing",
        "url": f"{SITE}/pricing?utm_source=news&utm_campaign=autumn",
        "referrer": "https://www.google.com/",
        "title": "Pricing",
        "campaign": "autumn",
        "utm_source": "news",
        "device_class": "mobile",
    }
    stored = orjson.dumps(published).decode()
    for trace in ("203.0.113.7", "Mozilla", "Pixel", "hanako", "ja-JP", "Asia/Tokyo", "q=", tracker.key):
        assert trace not in stored, trace


async def test_a_batch_to_v1_b_with_the_write_key_in_the_body_and_basic_auth_too(page: Ingest, tracker: NewKey) -> None:
    track = {**page_call(tracker.key), "type": "track", "event": "Clicked CTA", "properties": {"cta": "demo"}}
    calls = [page_call(tracker.key), track]
    for call in calls:
        del call["writeKey"], call["sentAt"]  # analytics.js' batching: one writeKey and sentAt for the batch
    batch = {"writeKey": tracker.key, "batch": calls, "sentAt": "2026-11-01T00:00:01.000Z"}
    basic = {"Authorization": "Basic " + base64.b64encode(f"{tracker.key}:".encode()).decode()}
    for headers in ({}, basic):  # analytics.js 1.84 sends both; a beacon only the body
        response = await page.client.post("/v1/b", content=body(batch), headers={**TEXT, **headers, "Origin": SITE})
        assert response.status_code == 200 and response.json()["accepted"] == 2, response.text
    assert sorted(e["type"] for e in await in_kafka(page.settings)) == ["page_viewed"] * 2 + ["tracked"] * 2


async def test_the_short_paths_name_each_call_type(page: Ingest, tracker: NewKey) -> None:
    screen = {**page_call(tracker.key), "name": "Home", "properties": {}}
    identify = {**page_call(tracker.key), "traits": {"email": "hanako@example.co.jp"}}
    for path, call in (
        ("/v1/s", screen),
        ("/v1/i", identify),
        ("/v1/a", {**page_call(tracker.key), "previousId": "x"}),
    ):
        response = await page.client.post(path, content=body(call), headers={**TEXT, "Origin": SITE})
        assert response.status_code == 200, (path, response.text)
    assert sorted(e["type"] for e in await in_kafka(page.settings)) == ["identified", "identified", "screen_viewed"]


async def test_no_key_anywhere_is_401_naming_the_write_key(page: Ingest) -> None:
    response = await page.client.post("/v1/t", content=body({"event": "x"}), headers={**TEXT, "Origin": SITE})
    assert response.status_code == 401 and '"writeKey" in the body' in response.json()["errors"][0]["reason"]
    assert "access-control-allow-origin" not in response.headers


async def test_an_origin_the_key_does_not_list_is_refused_naming_it(page: Ingest, tracker: NewKey) -> None:
    evil = "https://evil.example.com"
    response = await page.client.post("/v1/p", content=body(page_call(tracker.key)), headers={**TEXT, "Origin": evil})
    assert response.status_code == 403, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "origin" and evil in error["reason"]
    assert not any(h.startswith("access-control-") for h in response.headers)
    assert await in_kafka(page.settings) == []


async def test_a_key_without_origins_serves_servers_only(page: Ingest, key_store: KeyStore) -> None:
    crm = await key_store.create("crm", ("crm",))
    call = page_call(crm)
    response = await page.client.post("/v1/p", content=body(call), headers={**TEXT, "Origin": SITE})
    assert response.status_code == 403 and "lists no web origins" in response.text
    response = await page.client.post("/v1/p", content=body(call), headers=TEXT)  # no Origin: a server
    assert response.status_code == 200, response.text
    assert [e["event_id"] for e in await in_kafka(page.settings)] == [call["messageId"]]


async def test_a_refusal_a_page_may_read_carries_the_cors_headers(page: Ingest, tracker: NewKey) -> None:
    bad = page_call(tracker.key, messageId=None)  # no event id: 422, readable by the allowed page
    response = await page.client.post("/v1/p", content=body(bad), headers={**TEXT, "Origin": SITE})
    assert response.status_code == 422 and response.headers["access-control-allow-origin"] == SITE


@pytest.mark.parametrize("path", ["/v1/t", "/v1/b", "/v1/batch", "/v1/page", "/v1/events"])
async def test_a_preflight_is_answered_for_any_origin(page: Ingest, path: str) -> None:
    asked = {"Origin": "https://any.example", "Access-Control-Request-Method": "POST"}
    response = await page.client.options(path, headers={**asked, "Access-Control-Request-Headers": "authorization"})
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == "https://any.example"
    assert "Authorization" in response.headers["access-control-allow-headers"]
    assert "POST" in response.headers["access-control-allow-methods"]
    assert (
        int(response.headers["access-control-max-age"]) > 0
        and "access-control-allow-credentials" not in response.headers
    )
