"""The door keeps out what the stores cannot hold: through the real ingest, each refusal names the event, the
field and the reason, and nothing refused reaches Kafka (the topic holds exactly the accepted events)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from services.common.envelope import decode
from services.common.limits import MAX_AMOUNT
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.conftest import Ingest
from tests.integration.ingest.test_bad_input import page
from tests.stack import consume
from tests.unit.ingest.test_salesforce import envelope

LARGEST_YEN = int(MAX_AMOUNT)  # the reporting currency (JPY) has no decimals: 9999999999999999
NEXT_UP = 10**16


def won(amount: object) -> dict[str, Any]:
    return page(type="opportunity_won", lead_id="lead-1", properties={"opportunity_id": "opp-1", "amount": amount})


async def post_batch(ingest: Ingest, events: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Posts the batch (a good event first, so the answer is 202); returns the errors by index."""
    response = await ingest.client.post("/v1/events", content=orjson.dumps({"events": list(events)}))
    assert response.status_code == 202, response.text
    by_index: dict[int, list[dict[str, Any]]] = {}
    for error in response.json()["errors"]:
        by_index.setdefault(error["index"], []).append(error)
    return by_index


async def in_kafka(settings: IngestSettings, count: int) -> dict[str, Any]:
    """The events on the topic by id, once `count` arrived (and a little longer, to catch any extra)."""
    records = await consume(settings, settings.events_topic, count)
    return {e.event_id: e for e in (decode(r.value) for r in records)}


def assert_refused(errors: dict[int, list[dict[str, Any]]], index: int, field: str, *words: str) -> None:
    found = errors.get(index, [])
    assert any(e["field"] == field for e in found), (index, field, found)
    reason = next(e["reason"] for e in found if e["field"] == field)
    assert all(w.lower() in reason.lower() for w in words), (index, reason, words)


async def test_ids_with_a_nul_or_another_control_character_are_refused_naming_the_id(ingest: Ingest) -> None:
    good = page()
    bad = [
        page(event_id="evt-\x00-1"),
        page(lead_id="lead\x00"),
        page(anonymous_id="\x00anon"),
        page(account_id="acct-\x00"),
        page(lead_id="lead-\t-tab"),
        page(anonymous_id="anon-\x7f"),
        page(account_id="acct-\x85"),
    ]
    errors = await post_batch(ingest, [good, *bad])
    fields = ["event_id", "lead_id", "anonymous_id", "account_id", "lead_id", "anonymous_id", "account_id"]
    for index, field in enumerate(fields, start=1):
        assert_refused(errors, index, field, "control character")
    assert set(errors) == set(range(1, len(fields) + 1))
    assert set(await in_kafka(ingest.settings, 1)) == {good["event_id"]}


async def test_a_nul_in_a_property_value_or_key_at_any_depth_is_refused(ingest: Ingest) -> None:
    good = page(properties={"path": "/pricing", "note": "a literal \\u0000 is six harmless characters"})
    bad = [
        page(properties={"path": "/pricing", "title": "Pri\x00cing"}),
        page(properties={"path": "/pricing", "ti\x00tle": "Pricing"}),
        page(properties={"path": "/pricing", "items": [{"sku": "a"}, {"sku": ["x", "y\x00"]}]}),
        page(properties={"path": "/pricing", "deep": {"deeper": {"k\x00": 1}}}),
    ]
    errors = await post_batch(ingest, [good, *bad])
    assert_refused(errors, 1, "properties.title", "NUL")
    assert_refused(errors, 2, "properties", "key", "NUL")
    assert_refused(errors, 3, "properties.items[1].sku[1]", "NUL")
    assert_refused(errors, 4, "properties.deep.deeper", "key", "NUL")
    assert set(errors) == {1, 2, 3, 4}
    kafka = await in_kafka(ingest.settings, 1)
    assert set(kafka) == {good["event_id"]}
    assert kafka[good["event_id"]].properties["note"] == "a literal \\u0000 is six harmless characters"


async def test_utc_offsets_beyond_what_postgresql_stores_are_refused(ingest: Ingest) -> None:
    widest = [page(occurred_at="2026-11-01T09:00:00+15:59"), page(occurred_at="2026-11-01T09:00:00-15:59")]
    bad = [page(occurred_at=f"2026-11-01T09:00:00{o}") for o in ("+16:00", "-23:59", "+21:27")]
    errors = await post_batch(ingest, [*widest, *bad])
    for index in (2, 3, 4):
        assert_refused(errors, index, "occurred_at", "offset", "15:59")
    assert set(errors) == {2, 3, 4}
    kafka = await in_kafka(ingest.settings, 2)
    assert set(kafka) == {e["event_id"] for e in widest}
    assert kafka[widest[0]["event_id"]].occurred_at.utcoffset() == timedelta(hours=15, minutes=59)


async def test_occurred_at_outside_the_window_is_refused_with_the_window_in_the_reason(ingest: Ingest) -> None:
    now = datetime.now(UTC)
    inside = [page(occurred_at="2000-01-01T00:00:00Z"), page(occurred_at=(now + timedelta(hours=12)).isoformat())]
    bad = [
        page(occurred_at="0001-01-01T00:00:00Z"),
        page(occurred_at="9999-12-31T23:59:59Z"),
        page(occurred_at="1999-12-31T23:59:59Z"),
        page(occurred_at="2000-01-01T08:59:59+09:00"),  # 1999-12-31T23:59:59Z
        page(occurred_at=(now + timedelta(days=2)).isoformat()),
    ]
    errors = await post_batch(ingest, [*inside, *bad])
    for index in range(2, 7):
        assert_refused(errors, index, "occurred_at", "2000-01-01T00:00:00Z", "1 day after")
    assert set(errors) == set(range(2, 7))
    assert set(await in_kafka(ingest.settings, 2)) == {e["event_id"] for e in inside}


async def test_the_largest_amount_is_accepted_exactly_and_the_next_one_up_refused(ingest: Ingest) -> None:
    largest = [won(LARGEST_YEN), won(str(LARGEST_YEN)), won(f"0{LARGEST_YEN}.0")]
    bad = [won(NEXT_UP), won(str(NEXT_UP)), won(f"{LARGEST_YEN}9"), won(1e16)]
    errors = await post_batch(ingest, [*largest, *bad])
    for index in range(3, 7):
        assert_refused(errors, index, "properties.amount", str(MAX_AMOUNT))
    assert set(errors) == set(range(3, 7))
    kafka = await in_kafka(ingest.settings, 3)
    assert set(kafka) == {e["event_id"] for e in largest}
    assert {e.properties["amount"] for e in kafka.values()} == {"9999999999999999"}


@pytest.fixture
async def roomy(ingest: Ingest) -> AsyncIterator[httpx.AsyncClient]:
    """The same ingest with a body limit well above the per-event limit, so a batch may hold a huge event."""
    settings = ingest.settings.model_copy(update={"max_body_bytes": 4 * 1024 * 1024})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ingest.key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", headers=headers) as client:
            yield client


def padded(total_bytes: int) -> dict[str, Any]:
    """A page view whose JSON is exactly `total_bytes` long."""
    event = page(properties={"path": "/pricing", "blob": ""})
    event["properties"]["blob"] = "x" * (total_bytes - len(orjson.dumps(event)))
    return event


async def test_a_single_event_over_the_per_event_limit_is_413_never_503(ingest: Ingest) -> None:
    big = padded(ingest.settings.max_body_bytes - 64)  # about 1 MiB: within the body limit, over the event limit
    response = await ingest.client.post("/v1/events", content=orjson.dumps(big))
    assert response.status_code == 413, response.text
    limit = ingest.settings.max_event_bytes
    [error] = response.json()["errors"]
    assert (error["index"], error["event_id"], error["field"]) == (0, big["event_id"], "")
    assert f"{limit:,} bytes" in error["reason"] and "STAGETRACK_MAX_EVENT_BYTES" in error["reason"]
    marker = page()  # published after the refusal: once it is in Kafka, the refused event would be too
    assert (await ingest.client.post("/v1/events", json=marker)).status_code == 202
    assert set(await in_kafka(ingest.settings, 1)) == {marker["event_id"]}


async def test_in_a_batch_the_too_large_event_is_refused_and_the_one_beside_it_accepted(
    ingest: Ingest, roomy: httpx.AsyncClient
) -> None:
    big, good = padded(2 * 1024 * 1024), page()
    response = await roomy.post("/v1/events", content=orjson.dumps({"events": [big, good]}))
    assert response.status_code == 202, response.text
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (0, "")
    assert set(await in_kafka(ingest.settings, 1)) == {good["event_id"]}


SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def opportunity(record: str, amount: str) -> str:
    return (
        f"<sf:Id>{record}</sf:Id><sf:StageName>Closed Won</sf:StageName><sf:Amount>{amount}</sf:Amount>"
        "<sf:LastModifiedDate>2026-05-01T10:00:00.000Z</sf:LastModifiedDate>"
    )


async def test_salesforce_takes_the_largest_amount_and_refuses_the_next_one_up(
    salesforce: httpx.AsyncClient,
    ingest_settings: IngestSettings,
    salesforce_path: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = envelope(
        ("04l1", "Opportunity", opportunity("006000000000001AAA", f"{LARGEST_YEN}.0")),
        ("04l2", "Opportunity", opportunity("006000000000002AAA", str(NEXT_UP))),
        ("04l3", "Opportunity", opportunity("006000000000003AAA", "1.0E16")),  # xsd:double, as Salesforce writes it
        ("04l4", "Opportunity", opportunity("006000000000004AAA", "1.5E7")),
    )
    response = await salesforce.post(salesforce_path, content=body, headers=SOAP)
    assert response.status_code == 200 and "<Ack>true</Ack>" in response.text  # invalid: acknowledged, counted
    metrics = (await salesforce.get("/metrics")).text
    assert 'stagetrack_connector_items_total{connector="salesforce",outcome="invalid"} 2.0' in metrics
    refused = [r.getMessage() for r in caplog.records if "Salesforce notification" in r.getMessage()]
    assert len(refused) == 2 and all("properties.amount" in line for line in refused), refused  # why, in the log
    kafka = await in_kafka(ingest_settings, 2)
    assert {i: e.properties["amount"] for i, e in kafka.items()} == {
        "salesforce-04l1": "9999999999999999",
        "salesforce-04l4": "15000000",
    }
