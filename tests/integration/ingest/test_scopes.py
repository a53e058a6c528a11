"""What each key may post (docs/security.md "Scopes"): a tracker key only web events and a lead id only with its
identity-verification hash; keys of other scopes cannot post; the Salesforce URL's token is a revocable key.
Each refusal is a 403 naming the index, the field and what was refused, and nothing reaches Kafka."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.api_keys import NewKey, lead_id_hash
from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.conftest import Ingest
from tests.stack import consume
from tests.unit.ingest.test_salesforce import WON, envelope

SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def event(kind: str = "page_viewed", **fields: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"path": "/pricing"} if kind == "page_viewed" else {}
    if kind == "opportunity_won":
        properties = {"opportunity_id": "opp-1", "amount": "990000", "currency": "JPY"}
    base = {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": "2026-11-01T09:00:00+09:00"}
    return {**base, "anonymous_id": "cookie-1", "properties": properties, **fields}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def in_kafka(settings: IngestSettings) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in await consume(settings, settings.events_topic, 0, within=5)]


@pytest.fixture
async def tracker(key_store: KeyStore) -> NewKey:
    return await key_store.create_key("site", ("tracker",), ("https://www.example.jp",))


async def test_a_tracker_key_may_not_send_a_won_opportunity(ingest: Ingest, tracker: NewKey) -> None:
    batch = {"events": [event(), event("opportunity_won")]}
    response = await ingest.client.post("/v1/events", json=batch, headers=bearer(tracker.key))
    assert response.status_code == 403, response.text
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, "type")
    assert "a tracker key may not send opportunity_won" in error["reason"]
    assert await in_kafka(ingest.settings) == []  # the page view beside it is not published either


async def test_a_tracker_lead_id_needs_its_verification_hash(ingest: Ingest, tracker: NewKey) -> None:
    assert tracker.lead_id_secret is not None
    no_hash = event(lead_id="crm-7")
    forged = event(lead_id="crm-7", lead_id_hash=lead_id_hash("stv_guessed", "crm-7"))
    other_lead = event(lead_id="crm-8", lead_id_hash=lead_id_hash(tracker.lead_id_secret, "crm-7"))
    for refused, words in ((no_hash, "no lead_id_hash"), (forged, "does not match"), (other_lead, "does not match")):
        response = await ingest.client.post("/v1/events", json=refused, headers=bearer(tracker.key))
        assert response.status_code == 403, response.text
        [error] = response.json()["errors"]
        assert error["field"] == "lead_id" and words in error["reason"], error
    assert await in_kafka(ingest.settings) == []

    signed = event(lead_id="crm-7", lead_id_hash=lead_id_hash(tracker.lead_id_secret, "crm-7"))
    response = await ingest.client.post("/v1/events", json=signed, headers=bearer(tracker.key))
    assert response.status_code == 202, response.text
    [published] = await in_kafka(ingest.settings)
    assert (published["lead_id"], published["anonymous_id"], published["source"]) == ("crm-7", "cookie-1", "site")
    assert "lead_id_hash" not in published


async def test_a_segment_identify_carries_its_hash_in_the_context(ingest: Ingest, tracker: NewKey) -> None:
    assert tracker.lead_id_secret is not None
    basic = {"Authorization": "Basic " + base64.b64encode(f"{tracker.key}:".encode()).decode()}

    def identify(**context: Any) -> dict[str, Any]:
        call = {"messageId": str(uuid.uuid4()), "timestamp": "2026-11-01T09:00:00Z", "anonymousId": "cookie-2"}
        return {**call, "userId": "crm-9", "traits": {"plan": "pro"}, "context": context}

    response = await ingest.client.post("/v1/identify", json=identify(), headers=basic)
    assert response.status_code == 403 and response.json()["errors"][0]["field"] == "lead_id", response.text
    signed = identify(stagetrack={"lead_id_hash": lead_id_hash(tracker.lead_id_secret, "crm-9")})
    response = await ingest.client.post("/v1/identify", json=signed, headers=basic)
    assert response.status_code == 200, response.text
    [published] = await in_kafka(ingest.settings)
    assert (published["type"], published["lead_id"]) == ("identified", "crm-9")
    assert "lead_id_hash" not in orjson.dumps(published).decode()
    track = {"type": "track", "event": "Opportunity Won", "messageId": "m-won", "anonymousId": "cookie-2"}
    response = await ingest.client.post("/v1/batch", json={"batch": [track]}, headers=basic)
    assert response.status_code == 403 and "may not send opportunity_won" in response.text


@pytest.mark.parametrize("scope", ["read:kpi", "read:leads", "connector:salesforce", "erase"])
async def test_keys_of_other_scopes_cannot_post(ingest: Ingest, key_store: KeyStore, scope: str) -> None:
    key = await key_store.create("reader", (scope,))
    response = await ingest.client.post("/v1/events", json=event(), headers=bearer(key))
    assert response.status_code == 403, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "authorization"
    assert f"a key with scope {scope} may not post events" in error["reason"] and "crm or tracker" in error["reason"]
    assert await in_kafka(ingest.settings) == []


async def test_a_crm_key_sends_every_type(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/events", json=event("opportunity_won", lead_id="crm-1"))
    assert response.status_code == 202, response.text


async def test_salesforce_needs_its_path_token_and_revoking_it_refuses(
    salesforce: httpx.AsyncClient, key_store: KeyStore, ingest_settings: IngestSettings
) -> None:
    won = envelope(("04l9", "Opportunity", WON))  # the right OrganizationId: what anyone who saw it could send
    crm_key = await key_store.create("crm", ("crm",))
    refusals = {
        "/v1/connectors/salesforce": (401, "must end with a key of scope connector:salesforce"),
        "/v1/connectors/salesforce/stk_guessed": (401, "unknown or revoked"),
        f"/v1/connectors/salesforce/{crm_key}": (403, "may not post Salesforce Outbound Messages"),
    }
    for path, (status, words) in refusals.items():
        response = await salesforce.post(path, content=won, headers=SOAP)
        assert response.status_code == status, (path, response.text)
        assert "<faultcode>soapenv:Client</faultcode>" in response.text and words in response.text
    assert await in_kafka(ingest_settings) == []

    token = await key_store.create("salesforce", ("connector:salesforce",))
    response = await salesforce.post(f"/v1/connectors/salesforce/{token}", content=won, headers=SOAP)
    assert response.status_code == 200 and "<Ack>true</Ack>" in response.text, response.text
    assert [e["event_id"] for e in await in_kafka(ingest_settings)] == ["salesforce-04l9"]

    assert await key_store.revoke(token[:12]) == 1
    resent = envelope(("04la", "Opportunity", WON))
    response = await salesforce.post(f"/v1/connectors/salesforce/{token}", content=resent, headers=SOAP)
    assert response.status_code == 401 and "unknown or revoked" in response.text
    assert [e["event_id"] for e in await in_kafka(ingest_settings)] == ["salesforce-04l9"]


async def test_unknown_keys_are_remembered_so_a_flood_costs_one_query(engine: AsyncEngine, ingest: Ingest) -> None:
    store = KeyStore(engine, cache_ttl_seconds=0)  # as the tests' ingest: live keys are looked up every time
    for _ in range(50):
        assert await store.authenticate("stk_wrong-key") is None
    assert store.lookups == 1
    for _ in range(3):
        assert await store.authenticate(ingest.key) is not None
    assert store.lookups == 4
