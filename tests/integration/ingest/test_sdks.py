"""Segment's and RudderStack's own Python SDKs post to the ingest unchanged; each event lands once, mapped."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import rudderstack.analytics as rudder_analytics
import segment.analytics as segment_analytics

from services.ingest.app.settings import IngestSettings
from tests.stack import consume


def _drive(client: Any, run: str) -> None:
    client.page(anonymous_id=f"anon-{run}", name="Pricing", properties={"path": "/pricing", "title": "Pricing"})
    client.track(
        anonymous_id=f"anon-{run}", event="Content Downloaded", properties={"content_id": "wp-1", "campaign": "q4"}
    )
    client.track(
        user_id=f"lead-{run}",
        anonymous_id=f"anon-{run}",
        event="Form Submitted",
        properties={"form_id": "demo", "email": "a@example.com", "intent": "high"},
    )
    client.track(user_id=f"lead-{run}", event="Clicked Banner", properties={"banner": "b1"})
    client.identify(user_id=f"lead-{run}", anonymous_id=f"anon-{run}", traits={"email": "a@example.com"})
    client.alias(previous_id=f"anon2-{run}", user_id=f"lead-{run}")
    client.group(user_id=f"lead-{run}", group_id=f"acct-{run}", traits={"name": "ACME"})
    client.flush()


EXPECTED_TYPES = [
    "page_viewed",
    "content_downloaded",
    "form_submitted",
    "tracked",
    "identified",
    "identified",
    "identified",
]


async def _check(settings: IngestSettings, run: str, sent_ids: list[str]) -> None:
    records = await consume(settings, settings.events_topic, len(EXPECTED_TYPES))
    events = [orjson.loads(r.value) for r in records]
    assert sorted(e["event_id"] for e in events) == sorted(sent_ids)  # each once, no extra
    by_type = sorted(e["type"] for e in events)
    assert by_type == sorted(EXPECTED_TYPES)
    tracked = next(e for e in events if e["type"] == "tracked")
    assert tracked["properties"]["name"] == "Clicked Banner" and tracked["lead_id"] == f"lead-{run}"
    alias = next(e for e in events if e["type"] == "identified" and e["anonymous_id"] == f"anon2-{run}")
    assert alias["lead_id"] == f"lead-{run}"
    group = next(e for e in events if e["type"] == "identified" and e["account_id"] == f"acct-{run}")
    assert group["lead_id"] == f"lead-{run}"
    page = next(e for e in events if e["type"] == "page_viewed")
    assert page["properties"]["path"] == "/pricing" and page["anonymous_id"] == f"anon-{run}"
    for record in records:  # keyed by lead_id when present, else anonymous_id
        event = orjson.loads(record.value)
        assert record.key.decode() == (event["lead_id"] or event["anonymous_id"])


class _Recorder:
    """Wraps an SDK client to remember the messageIds it generated (returned by each call)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent_ids: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if name == "flush":
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            message_id = str(uuid.uuid4())
            self.sent_ids.append(message_id)
            return method(*args, message_id=message_id, **kwargs)

        return call


async def test_segment_sdk_with_gzip(ingest_server: tuple[str, str], ingest_settings: IngestSettings) -> None:
    url, key = ingest_server
    errors: list[Exception] = []
    client = segment_analytics.Client(
        write_key=key, host=url, gzip=True, sync_mode=True, max_retries=1, on_error=lambda e, _: errors.append(e)
    )
    recorder = _Recorder(client)
    run = uuid.uuid4().hex[:8]
    await asyncio.to_thread(_drive, recorder, run)
    assert errors == []
    await _check(ingest_settings, run, recorder.sent_ids)


async def test_rudderstack_sdk_with_gzip(ingest_server: tuple[str, str], ingest_settings: IngestSettings) -> None:
    url, key = ingest_server
    errors: list[Exception] = []
    client = rudder_analytics.Client(
        write_key=key, host=url, gzip=True, sync_mode=True, max_retries=1, on_error=lambda e, _: errors.append(e)
    )
    recorder = _Recorder(client)
    run = uuid.uuid4().hex[:8]
    await asyncio.to_thread(_drive, recorder, run)
    assert errors == []
    await _check(ingest_settings, run, recorder.sent_ids)
