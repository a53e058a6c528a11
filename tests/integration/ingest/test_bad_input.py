"""Bad input, case by case: each refusal is a 4xx that names the event index, the field and the reason;
the valid events beside it are still accepted and land in Kafka."""

from __future__ import annotations

import base64
import gzip
import uuid
from typing import Any

import orjson
import pytest

from tests.integration.ingest.conftest import Ingest
from tests.stack import consume


def page(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "page_viewed",
        "occurred_at": "2026-11-01T09:00:00+09:00",
        "anonymous_id": "anon-1",
        "properties": {"path": "/pricing"},
    }
    event.update(overrides)
    return event


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body["errors"]) == 1, body
    return dict(body["errors"][0])


async def test_a_valid_batch_is_accepted_and_durable(ingest: Ingest) -> None:
    events = [page(), page(anonymous_id="anon-2")]
    response = await ingest.client.post("/v1/events", json={"events": events})
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 2, "rejected": 0, "errors": []}
    records = await consume(ingest.settings, ingest.settings.events_topic, 2)
    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(e["event_id"] for e in events)
    assert {orjson.loads(r.value)["source"] for r in records} == {"web"}


async def test_malformed_json(ingest: Ingest) -> None:
    response = await ingest.client.post(
        "/v1/events", content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = only_error(response.json())
    assert error["field"] == "body" and "not valid JSON" in error["reason"]


@pytest.mark.parametrize(
    ("event", "field", "reason_words"),
    [
        (page(occurred_at=12), "occurred_at", "string"),
        (page(occurred_at="2026-11-01T09:00:00"), "occurred_at", "offset"),
        (page(properties={"title": "no path"}), "properties.path", "required"),
        (page(type="page_seen"), "type", "one of"),
        (page(event_id=""), "event_id", ""),
        (page(anonymous_id=None, lead_id=None), "lead_id", "anonymous_id or lead_id"),
        (page(properties={"path": "/", "email": "jane@example.com"}), "properties.email", "personal data"),
        (
            page(properties={"path": "/", "referrer": "https://x.test/?u=jane%40example.com"}),
            "properties.referrer",
            "personal data",
        ),
    ],
    ids=[
        "wrong-type",
        "naive-time",
        "missing-required",
        "unknown-type",
        "empty-id",
        "no-ids",
        "pii-email",
        "pii-in-referrer",
    ],
)
async def test_one_bad_event_is_named_and_the_good_one_beside_it_accepted(
    ingest: Ingest, event: dict[str, Any], field: str, reason_words: str
) -> None:
    good = page()
    response = await ingest.client.post("/v1/events", json={"events": [good, event]})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == 1
    fields = {e["field"] for e in body["errors"]}
    assert all(e["index"] == 1 for e in body["errors"])
    assert field in fields, body
    assert any(reason_words.lower() in e["reason"].lower() for e in body["errors"]), body


async def test_all_invalid_is_422(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/events", json={"events": [page(type="nope"), page(properties={})]})
    assert response.status_code == 422
    body = response.json()
    assert body["accepted"] == 0 and body["rejected"] == 2
    assert {e["index"] for e in body["errors"]} == {0, 1}


async def test_oversized_body_is_413(ingest: Ingest) -> None:
    big = page(properties={"path": "/", "title": "x" * (ingest.settings.max_body_bytes + 1)})
    response = await ingest.client.post("/v1/events", content=orjson.dumps(big))
    assert response.status_code == 413
    assert only_error(response.json())["field"] == "body"


async def test_too_many_events_is_413(ingest: Ingest) -> None:
    events = [page() for _ in range(ingest.settings.max_events_per_request + 1)]
    response = await ingest.client.post("/v1/events", json={"events": events})
    assert response.status_code == 413
    error = only_error(response.json())
    assert error["field"] == "events" and str(ingest.settings.max_events_per_request) in error["reason"]


async def test_gzip_bomb_is_refused_without_expanding(ingest: Ingest) -> None:
    bomb = gzip.compress(b'{"events": [' + b" " * (200 * 1024 * 1024) + b"]}")
    assert len(bomb) < ingest.settings.max_body_bytes
    response = await ingest.client.post("/v1/events", content=bomb, headers={"content-encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in only_error(response.json())["reason"]


async def test_gzip_body_is_accepted(ingest: Ingest) -> None:
    response = await ingest.client.post(
        "/v1/events", content=gzip.compress(orjson.dumps(page())), headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer stk_wrong", "Basic " + base64.b64encode(b"stk_wrong:").decode(), "Basic !!!", "Token abc"],
    ids=["missing", "wrong-bearer", "wrong-basic", "bad-base64", "unknown-scheme"],
)
async def test_missing_or_wrong_key_is_401(ingest: Ingest, authorization: str | None) -> None:
    request = ingest.client.build_request("POST", "/v1/events", json=page())
    del request.headers["authorization"]
    if authorization:
        request.headers["authorization"] = authorization
    response = await ingest.client.send(request)
    assert response.status_code == 401
    assert only_error(response.json())["field"] == "authorization"


async def test_a_revoked_key_is_401_and_the_write_key_works_as_basic_user(ingest: Ingest) -> None:
    key = await ingest.keys.create("crm")
    basic = {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    assert (await ingest.client.post("/v1/events", json=page(), headers=basic)).status_code == 202
    prefix = next(k.key_prefix for k in await ingest.keys.list() if k.source == "crm")
    assert await ingest.keys.revoke(prefix) == 1
    response = await ingest.client.post("/v1/events", json=page(), headers=basic)
    assert response.status_code == 401
    assert "revoked" in only_error(response.json())["reason"]


@pytest.mark.parametrize("path", ["/v1/track", "/v1/page", "/v1/identify", "/v1/alias", "/v1/group"])
async def test_segment_single_calls(ingest: Ingest, path: str) -> None:
    calls = {
        "/v1/track": {
            "type": "track",
            "event": "Webinar Attended",
            "anonymousId": "a1",
            "properties": {"webinar_id": "w1"},
        },
        "/v1/page": {"type": "page", "anonymousId": "a1", "properties": {"path": "/docs"}},
        "/v1/identify": {"type": "identify", "userId": "L1", "anonymousId": "a1", "traits": {"email": "x@y.test"}},
        "/v1/alias": {"type": "alias", "previousId": "a1", "userId": "L1"},
        "/v1/group": {"type": "group", "userId": "L1", "groupId": "acme"},
    }
    call = {**calls[path], "messageId": str(uuid.uuid4()), "timestamp": "2026-11-01T00:00:00Z"}
    response = await ingest.client.post(path, json=call)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
