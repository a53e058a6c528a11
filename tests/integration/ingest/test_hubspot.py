"""HubSpot webhooks into the real Kafka, signed with hubspot-api-client's own signer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from hubspot.utils.signature import Signature
from pydantic import SecretStr

from services.common.envelope import decode
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings
from tests.stack import consume

SECRET = "hubspot-app-secret"
URL = "http://ingest/v1/connectors/hubspot"
NOW_MS = 1777626000000


@pytest.fixture
async def hubspot(ingest_settings: IngestSettings) -> AsyncIterator[tuple[httpx.AsyncClient, IngestSettings]]:
    settings = ingest_settings.model_copy(update={"hubspot_app_secret": SecretStr(SECRET)})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            yield client, settings


def signed(body: bytes, *, secret: str = SECRET, timestamp_ms: int | None = None) -> dict[str, str]:
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = Signature.get_signature(secret, body.decode(), "v3", URL, "POST", timestamp)
    return {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def payload() -> list[dict[str, Any]]:
    common = {"portalId": 62515, "appId": 1, "subscriptionId": 9, "attemptNumber": 0, "changeSource": "CRM"}
    return [
        {**common, "eventId": 1001, "subscriptionType": "contact.creation", "objectId": 7, "occurredAt": NOW_MS},
        {
            **common,
            "eventId": 1002,
            "subscriptionType": "contact.propertyChange",
            "objectId": 7,
            "propertyName": "lifecyclestage",
            "propertyValue": "salesqualifiedlead",
            "occurredAt": NOW_MS + 1000,
        },
        {**common, "eventId": 1003, "subscriptionType": "deal.creation", "objectId": 55, "occurredAt": NOW_MS + 2000},
        {
            **common,
            "eventId": 1004,
            "subscriptionType": "deal.associationChange",
            "associationType": "DEAL_TO_CONTACT",
            "fromObjectId": 55,
            "toObjectId": 7,
            "associationRemoved": False,
            "occurredAt": NOW_MS + 3000,
        },
        {
            **common,
            "eventId": 1005,
            "subscriptionType": "deal.propertyChange",
            "objectId": 55,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
            "occurredAt": NOW_MS + 4000,
        },
        {
            **common,
            "eventId": 1006,
            "subscriptionType": "contact.merge",
            "objectId": 7,
            "primaryObjectId": 7,
            "mergedObjectIds": [8],
            "occurredAt": NOW_MS + 5000,
        },
        {**common, "eventId": 1007, "subscriptionType": "company.creation", "objectId": 3, "occurredAt": NOW_MS},
    ]


EXPECTED = {
    "hubspot-1001": ("identified", "hubspot-contact-7", "hubspot-contact-7"),
    "hubspot-1002": ("meeting_scheduled", "hubspot-contact-7", "hubspot-contact-7"),
    "hubspot-1003": ("opportunity_created", None, "hubspot-deal-55"),
    "hubspot-1004": ("identified", "hubspot-contact-7", "hubspot-deal-55"),
    "hubspot-1005": ("opportunity_won", None, "hubspot-deal-55"),
    "hubspot-1006-8": ("identified", "hubspot-contact-7", "hubspot-contact-8"),
}


async def test_signed_payloads_land_mapped_in_kafka_exactly_once_even_when_posted_twice(
    hubspot: tuple[httpx.AsyncClient, IngestSettings],
) -> None:
    client, settings = hubspot
    body = orjson.dumps(payload())
    answers = []
    for _ in range(2):  # HubSpot redelivers the same events with the same eventIds
        response = await client.post("/v1/connectors/hubspot", content=body, headers=signed(body))
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers == [
        {"accepted": 6, "rejected": 0, "errors": [], "ignored": 1, "duplicates": 0},
        {"accepted": 0, "rejected": 0, "errors": [], "ignored": 1, "duplicates": 6},
    ]
    records = await consume(settings, settings.events_topic, 6)
    events = [decode(r.value) for r in records]
    assert sorted(e.event_id for e in events) == sorted(EXPECTED)  # each id once: the redelivery published nothing
    for event in events:
        assert (event.type, event.lead_id, event.anonymous_id) == EXPECTED[event.event_id]
        assert event.source == "hubspot"
    won = next(e for e in events if e.event_id == "hubspot-1005")
    assert won.properties == {"opportunity_id": "55", "amount": "0", "currency": "JPY"}


async def test_concurrent_redeliveries_publish_each_event_once(
    hubspot: tuple[httpx.AsyncClient, IngestSettings],
) -> None:
    client, settings = hubspot
    body = orjson.dumps(payload())
    responses = await asyncio.gather(
        *(client.post("/v1/connectors/hubspot", content=body, headers=signed(body)) for _ in range(4))
    )
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["accepted"] for r in responses) == [0, 0, 0, 6]
    records = await consume(settings, settings.events_topic, 6)
    assert sorted(decode(r.value).event_id for r in records) == sorted(EXPECTED)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered", "does not match"),
        ("wrong_secret", "does not match"),
        ("old", "old"),
        ("future", "future"),
        ("unsigned", "missing"),
    ],
)
async def test_unproven_requests_are_refused_with_401_and_nothing_is_published(
    hubspot: tuple[httpx.AsyncClient, IngestSettings], case: str, reason: str
) -> None:
    client, settings = hubspot
    body = orjson.dumps(payload()[:1])
    now_ms = int(time.time() * 1000)
    headers = {
        "tampered": signed(body),
        "wrong_secret": signed(body, secret="not-the-secret"),
        "old": signed(body, timestamp_ms=now_ms - 301_000),
        "future": signed(body, timestamp_ms=now_ms + 301_000),
        "unsigned": {"Content-Type": "application/json"},
    }[case]
    sent = body.replace(b'"objectId":7', b'"objectId":8') if case == "tampered" else body
    assert sent != body or case != "tampered"
    response = await client.post("/v1/connectors/hubspot", content=sent, headers=headers)
    assert response.status_code == 401, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "signature" and reason in error["reason"]
    # a valid request afterwards is the only thing in the topic: the refused one published nothing
    valid = orjson.dumps(payload()[1:2])
    assert (await client.post("/v1/connectors/hubspot", content=valid, headers=signed(valid))).status_code == 200
    records = await consume(settings, settings.events_topic, 1)
    assert [decode(r.value).event_id for r in records] == ["hubspot-1002"]


async def test_unmappable_items_are_reported_by_index_beside_accepted_ones(
    hubspot: tuple[httpx.AsyncClient, IngestSettings],
) -> None:
    client, _ = hubspot
    items: list[Any] = [payload()[0], {"eventId": 5, "subscriptionType": "contact.creation", "occurredAt": NOW_MS}, 3]
    body = orjson.dumps(items)
    response = await client.post("/v1/connectors/hubspot", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1 and answer["rejected"] == 2
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [(1, "objectId"), (2, "")]
    assert answer["errors"][0]["event_id"] == "hubspot-5"


async def test_without_an_app_secret_the_connector_answers_404(ingest_settings: IngestSettings) -> None:
    app = create_app(ingest_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            response = await client.post("/v1/connectors/hubspot", content=b"[]")
    assert response.status_code == 404
    assert response.json()["errors"][0]["reason"].startswith("connector not configured")
