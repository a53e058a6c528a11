"""GET /v1/projects/{writeKey}/settings, what analytics.js loads first with this ingest as its cdnURL: served for a
live tracker key only (one 404 for everything else), to the key's origins, pointing the library here."""

from __future__ import annotations

import httpx
import pytest

from services.common.keys import KeyStore
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.conftest import Ingest

SITE = "https://www.example.jp"


@pytest.fixture
def page(ingest: Ingest) -> Ingest:
    del ingest.client.headers["Authorization"]
    return ingest


async def test_a_tracker_key_gets_a_document_pointing_analytics_js_here(page: Ingest, key_store: KeyStore) -> None:
    key = await key_store.create("site", ("tracker",), (SITE,))
    response = await page.client.get(f"/v1/projects/{key}/settings", headers={"Origin": SITE})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SITE and response.headers["vary"] == "Origin"
    assert response.headers["cache-control"] == "public, max-age=300" and "set-cookie" not in response.headers
    document = response.json()
    assert document["integrations"] == {
        "Segment.io": {
            "apiKey": key,
            "apiHost": "ingest/v1",  # the test client's host; STAGETRACK_PUBLIC_URL names it behind a proxy
            "protocol": "http",
            "addBundledMetadata": False,
            "unbundledIntegrations": [],
            "maybeBundledConfigIds": {},
        }
    }
    assert document["metrics"] == {"sampleRate": 0} and document["remotePlugins"] == []
    no_origin = await page.client.get(f"/v1/projects/{key}/settings")  # a server, or curl
    assert no_origin.status_code == 200 and "access-control-allow-origin" not in no_origin.headers


async def test_the_public_url_names_the_host(ingest_settings: IngestSettings, key_store: KeyStore) -> None:
    app = create_app(ingest_settings.model_copy(update={"public_url": "https://track.example.jp/stagetrack/"}))
    key = await key_store.create("site", ("tracker",), (SITE,))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            response = await client.get(f"/v1/projects/{key}/settings")
    segment = response.json()["integrations"]["Segment.io"]
    assert (segment["apiHost"], segment["protocol"]) == ("track.example.jp/stagetrack/v1", "https")


async def test_every_other_key_gets_the_same_404(page: Ingest, key_store: KeyStore) -> None:
    crm = await key_store.create("crm", ("crm",))
    revoked = await key_store.create("old-site", ("tracker",), (SITE,))
    assert await key_store.revoke(revoked[:12]) == 1
    answers = [await page.client.get(f"/v1/projects/{k}/settings") for k in (crm, revoked, "stk_unknown")]
    assert {r.status_code for r in answers} == {404}
    assert len({r.text for r in answers}) == 1  # nothing tells a crm key from an unknown one


async def test_an_origin_the_key_does_not_list_is_refused(page: Ingest, key_store: KeyStore) -> None:
    key = await key_store.create("site", ("tracker",), (SITE,))
    response = await page.client.get(f"/v1/projects/{key}/settings", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "https://evil.example" in response.json()["errors"][0]["reason"]
    assert "access-control-allow-origin" not in response.headers
