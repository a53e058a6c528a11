"""Salesforce Outbound Messages into the real Kafka: mapped events, Ack only after Kafka acknowledged, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.common.envelope import decode
from services.ingest.adapters.publisher import BrokerUnavailable
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings
from tests.stack import consume
from tests.unit.ingest.test_salesforce import BILLION_LAUGHS, EXTERNAL_ENTITY, ORG, WON, envelope, lead

SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


@pytest.fixture
async def salesforce(ingest_settings: IngestSettings) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(ingest_settings.model_copy(update={"salesforce_organization_id": ORG[:15]}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            yield client, app


async def test_lead_and_opportunity_notifications_become_mapped_events_then_the_ack(
    salesforce: tuple[httpx.AsyncClient, FastAPI], ingest_settings: IngestSettings, salesforce_path: str
) -> None:
    client, app = salesforce
    publisher = app.state.intake._publisher
    acknowledged: list[int] = []
    publish = publisher.publish

    async def recording_publish(events: list[object]) -> None:
        await publish(events)
        acknowledged.append(len(events))  # reached only once Kafka acknowledged

    publisher.publish = recording_publish
    body = envelope(
        ("04l1", "Lead", lead("Working - Contacted")),
        ("04l2", "Opportunity", WON),
        ("04l3", "Lead", lead("Open - Not Contacted")),  # unmapped status: ignored
    )
    response = await client.post(salesforce_path, content=body, headers=SOAP)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Ack>true</Ack>" in response.text
    assert acknowledged == [2]
    records = await consume(ingest_settings, ingest_settings.events_topic, 2)
    events = {e.event_id: e for e in (decode(r.value) for r in records)}
    assert set(events) == {"salesforce-04l1", "salesforce-04l2"}
    assert events["salesforce-04l1"].type == "lead_accepted"
    won = events["salesforce-04l2"]
    assert (won.type, won.lead_id, won.source) == ("opportunity_won", "salesforce-003000000000001AAA", "salesforce")
    assert won.properties == {"opportunity_id": "006000000000001AAA", "amount": "1200000", "currency": "JPY"}


async def test_no_ack_when_kafka_does_not_acknowledge_and_the_resend_is_published_once(
    salesforce: tuple[httpx.AsyncClient, FastAPI], ingest_settings: IngestSettings, salesforce_path: str
) -> None:
    client, app = salesforce
    publisher = app.state.intake._publisher
    publish = publisher.publish

    async def failing_publish(events: list[object]) -> None:
        raise BrokerUnavailable("Kafka did not acknowledge within 3 s")

    publisher.publish = failing_publish
    body = envelope(("04l2", "Opportunity", WON))
    response = await client.post(salesforce_path, content=body, headers=SOAP)
    assert response.status_code == 503
    assert "<Ack>" not in response.text
    assert "<faultcode>soapenv:Server</faultcode>" in response.text

    publisher.publish = publish  # Kafka is back: Salesforce resends the same notification, twice
    for _ in range(2):
        response = await client.post(salesforce_path, content=body, headers=SOAP)
        assert response.status_code == 200 and "<Ack>true</Ack>" in response.text
    records = await consume(ingest_settings, ingest_settings.events_topic, 1)
    assert [decode(r.value).event_id for r in records] == ["salesforce-04l2"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, "DTDs and entities are not accepted"),
        (EXTERNAL_ENTITY, "DTDs and entities are not accepted"),
        (b"<soapenv:Envelope><unclosed>", "not well-formed"),
        (b'{"json": true}', "not well-formed"),
        (envelope(("04l2", "Opportunity", WON), org="00D000000000099EAA"), "not the configured organization"),
    ],
)
async def test_bad_hostile_or_foreign_envelopes_get_a_soap_fault(
    salesforce: tuple[httpx.AsyncClient, FastAPI], body: bytes, reason: str, salesforce_path: str
) -> None:
    client, _ = salesforce
    response = await client.post(salesforce_path, content=body, headers=SOAP)
    assert response.status_code == 400
    assert "<Ack>" not in response.text
    assert "<faultcode>soapenv:Client</faultcode>" in response.text
    assert reason in response.text


async def test_unconfigured_connector_answers_a_fault(ingest_settings: IngestSettings, salesforce_path: str) -> None:
    app = create_app(ingest_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            response = await client.post(salesforce_path, content=envelope(("04l2", "Opportunity", WON)), headers=SOAP)
    assert response.status_code == 404
    assert "connector not configured" in response.text
