"""Personal data on anonymous tracking events, as a tracker would leak it: each event is answered 422 naming the
field and the kind of data, and none of them reaches Kafka."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.conftest import Ingest
from tests.stack import consume

# (properties of an anonymous page view, the field named, the kind of personal data named)
LEAKS: list[tuple[dict[str, Any], str, str]] = [
    ({"title": "Hanako Yamada", "contact": "+81 90-1234-5678"}, "properties.contact", "a phone number"),
    ({"referrer": "https://example.jp/?u=hanako＠example.co.jp"}, "properties.referrer", "an email address"),
    ({"title": "hanako&#64;example.co.jp"}, "properties.title", "an email address"),
    ({"title": "hanako&commat;example.co.jp"}, "properties.title", "an email address"),
    ({"title": "hanako&#x40;example.co.jp"}, "properties.title", "an email address"),
    ({"contactEmail": "hanako"}, "properties.contactEmail", "an email address"),
    ({"user.email": "hanako"}, "properties.user.email", "an email address"),
    ({"氏名": "山田 花子"}, "properties.氏名", "a name"),
    ({"電話番号": "非公開"}, "properties.電話番号", "a phone number"),
    ({"メールアドレス": "hanako"}, "properties.メールアドレス", "an email address"),
    ({"住所": "東京都千代田区丸の内1-2-3"}, "properties.住所", "a postal address"),
    ({"memberNo": "A-1001"}, "properties.memberNo", "a key listed in STAGETRACK_PERSONAL_KEYS"),
]


@pytest.fixture
def ingest_settings(ingest_settings: IngestSettings) -> IngestSettings:
    """The ingest of these tests also refuses the operator's own personal key, as STAGETRACK_PERSONAL_KEYS says."""
    return ingest_settings.model_copy(update={"personal_keys": ["member_no"]})


def page_view(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "page_viewed",
        "occurred_at": "2026-11-01T09:00:00+09:00",
        "anonymous_id": "anon-1",
        "properties": {"path": "/pricing", **properties},
    }


async def test_each_leak_is_refused_422_naming_the_field_and_none_reaches_kafka(ingest: Ingest) -> None:
    leaks = [page_view(properties) for properties, _, _ in LEAKS]
    response = await ingest.client.post("/v1/events", json={"events": leaks})
    assert response.status_code == 422, response.text
    named = [(e["index"], e["field"], e["reason"].split("(", 1)[1].split(")", 1)[0]) for e in response.json()["errors"]]
    assert named == [(index, field, kind) for index, (_, field, kind) in enumerate(LEAKS)]

    ordinary = page_view({"title": "Hanako Yamada", "url": "https://example.jp/pricing?utm_source=news"})
    accepted = await ingest.client.post("/v1/events", json={"events": [ordinary]})
    assert accepted.status_code == 202, accepted.text
    records = await consume(ingest.settings, ingest.settings.events_topic, 1)
    assert [orjson.loads(r.value)["event_id"] for r in records] == [ordinary["event_id"]]
