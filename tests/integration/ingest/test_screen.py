"""A `screen` call from Segment's own Python SDK (and RudderStack's) is accepted as a screen_viewed event."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
import rudderstack.analytics as rudder_analytics
import segment.analytics as segment_analytics

from services.ingest.app.settings import IngestSettings
from tests.stack import consume


@pytest.mark.parametrize("sdk", [segment_analytics, rudder_analytics], ids=["segment", "rudderstack"])
async def test_an_sdks_screen_call_is_a_screen_view(
    ingest_server: tuple[str, str], ingest_settings: IngestSettings, sdk: Any
) -> None:
    url, key = ingest_server
    errors: list[Exception] = []
    client = sdk.Client(write_key=key, host=url, sync_mode=True, max_retries=1, on_error=lambda e, _: errors.append(e))
    anonymous, known, ids = (
        f"anon-{uuid.uuid4().hex[:8]}",
        f"lead-{uuid.uuid4().hex[:8]}",
        [str(uuid.uuid4()) for _ in "ab"],
    )

    def send() -> None:
        client.screen(
            anonymous_id=anonymous, name="Pricing", category="Plans", properties={"plan": "team"}, message_id=ids[0]
        )
        client.screen(user_id=known, name="Checkout", message_id=ids[1])
        client.flush()

    await asyncio.to_thread(send)
    assert errors == []
    events = [orjson.loads(r.value) for r in await consume(ingest_settings, ingest_settings.events_topic, 2)]
    by_id = {e["event_id"]: e for e in events}
    assert sorted(by_id) == sorted(ids)
    first, second = by_id[ids[0]], by_id[ids[1]]
    assert (first["type"], first["anonymous_id"], first["lead_id"]) == ("screen_viewed", anonymous, None)
    assert first["properties"] == {"plan": "team", "name": "Pricing", "category": "Plans"}
    assert (second["type"], second["lead_id"], second["properties"]) == ("screen_viewed", known, {"name": "Checkout"})
