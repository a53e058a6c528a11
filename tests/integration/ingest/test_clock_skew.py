"""A browser's clock an hour ahead: the events land at the server's time (Segment's sentAt correction), while a
server-side SDK's timestamps are kept as sent (docs/ingest-validation.md, "Segment and RudderStack calls")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tests.integration.ingest.conftest import Ingest
from tests.stack import consume

AHEAD = timedelta(hours=1)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def call(library: str, happened: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Clicked CTA",
        "messageId": str(uuid.uuid4()),
        "anonymousId": "anon-skew",
        "timestamp": stamp(happened),
        "context": {"library": {"name": library}},
        **fields,
    }


async def test_a_browser_an_hour_ahead_lands_at_the_servers_time(ingest: Ingest) -> None:
    device_now = datetime.now(UTC) + AHEAD
    waited = timedelta(seconds=3)  # the call sat in analytics.js' batch this long before it was sent
    browser = call("analytics.js", device_now - waited)
    single = call("analytics.js", device_now - waited, sentAt=stamp(device_now))
    server = call("analytics-python", datetime(2026, 1, 5, 9, 0, tzinfo=UTC), sentAt=stamp(datetime.now(UTC)))
    batch = {"batch": [browser, server], "sentAt": stamp(device_now)}
    assert (await ingest.client.post("/v1/b", json=batch)).status_code == 200
    assert (await ingest.client.post("/v1/t", json=single)).status_code == 200
    received = datetime.now(UTC)

    records = await consume(ingest.settings, ingest.settings.events_topic, 3)
    occurred = {
        e["event_id"]: datetime.fromisoformat(e["occurred_at"]) for e in map(orjson.loads, (r.value for r in records))
    }
    for corrected in (browser, single):
        assert abs(occurred[corrected["messageId"]] - (received - waited)) < timedelta(seconds=1)
    assert occurred[server["messageId"]] == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # as sent
