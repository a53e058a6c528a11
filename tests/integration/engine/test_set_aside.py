"""An event the store refuses (PostgreSQL: a NUL in text, a UTC offset beyond ±15:59) is set aside with the
database's reason; every other event of its batch, before and behind it on the same partition, is stored
exactly once, and the engine keeps going. The records are produced raw to the topic, as a faulty or hostile
producer would: the ingest refuses these inputs at the door."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.integration.engine.test_event_counts import outcomes
from tests.stack import consume, eventually

AT = "2026-10-01T09:00:00+00:00"
REFUSED = {  # event id -> the error PostgreSQL answers
    "nul-\x00-event": "UntranslatableCharacterError",
    "nul-lead": "UntranslatableCharacterError",
    "nul-cookie": "UntranslatableCharacterError",
    "offset-east": "InvalidTimeZoneDisplacementValueError",
    "offset-west": "InvalidTimeZoneDisplacementValueError",
}


def one_partition() -> list[Event]:
    """Normal events around the refused ones, all on one partition (one key), fetched as one batch."""
    return [
        envelope("n1", "form_submitted", AT, lead_id="K1", form_id="f", email="k1@example.com"),
        envelope("nul-\x00-event", "page_viewed", AT, anonymous_id="v1", path="/"),
        envelope("n2", "page_viewed", AT, anonymous_id="v2", path="/pricing"),
        envelope("nul-lead", "lead_accepted", AT, lead_id="L\x00"),
        envelope("n3", "lead_accepted", "2026-10-01T10:00:00+00:00", lead_id="K1"),
        envelope("nul-cookie", "page_viewed", AT, anonymous_id="a\x00b", path="/"),
        envelope("offset-east", "page_viewed", "2026-10-01T09:00:00+16:00", anonymous_id="v3", path="/"),
        envelope("n4", "page_viewed", AT, anonymous_id="v2", path="/blog"),
        envelope("offset-west", "page_viewed", "2026-10-01T09:00:00-23:59", anonymous_id="v4", path="/"),
        envelope("n2", "page_viewed", AT, anonymous_id="v2", path="/pricing"),  # a duplicate: stored once
        envelope("n5", "meeting_scheduled", "2026-10-01T11:00:00+00:00", lead_id="K1"),
    ]


async def test_events_the_store_refuses_are_set_aside_and_the_others_stored_exactly_once(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, engine_client: httpx.AsyncClient
) -> None:
    await producer.send_keyed([(b"one-partition", e) for e in one_partition()])
    elsewhere = [envelope(f"o{n}", "page_viewed", AT, anonymous_id=f"o{n}", path="/") for n in range(20)]
    await producer.send(elsewhere)
    stored = {"n1", "n2", "n3", "n4", "n5", *(e.event_id for e in elsewhere)}

    async def all_counted() -> dict[str, float] | None:
        counted = await outcomes(engine_client)
        return counted if sum(counted.values()) >= 11 + len(elsewhere) else None

    counted = await eventually(all_counted, 60, "every record stored or set aside")
    assert counted == {"applied": len(stored), "duplicate": 1, "dead_lettered": len(REFUSED)}

    dead = await consume(engine_settings, engine_settings.dead_letter_topic, len(REFUSED))
    reasons = {dict(r.headers)["event_id"].decode(): dict(r.headers)["reason"].decode() for r in dead}
    assert len(dead) == len(REFUSED) and reasons.keys() == REFUSED.keys()
    for event_id, error in REFUSED.items():
        assert reasons[event_id].startswith(f"event {event_id}: {error}: "), reasons[event_id]
    assert {orjson.loads(r.value)["event_id"] for r in dead} == REFUSED.keys()  # the original record

    async with engine.connect() as conn:
        claimed = set((await conn.execute(text("SELECT event_id FROM processed_events"))).scalars())
        causes = (
            await conn.execute(  # an event writes each kind of domain event once (an identity link per identity)
                text("SELECT cause_event_id, type, count(*) FROM lead_events GROUP BY 1, 2, data->>'kind'")
            )
        ).all()
        stage = await conn.scalar(
            text(
                "SELECT s.state->>'stage' FROM lead_identities i JOIN lead_snapshots s USING (lead_id) "
                "WHERE i.kind = 'crm' AND i.value = 'K1'"
            )
        )
    assert stored <= claimed and not claimed & REFUSED.keys()  # a redrive can still store a set-aside event
    assert {cause for cause, _, _ in causes} == stored  # nothing of a refused event was written
    assert all(count == 1 for _, _, count in causes)  # each stored once
    assert stage == "sql"  # n1, n3 and n5 applied in order around the refused ones

    # the engine keeps going, and says it is well
    await producer.send([envelope("after", "page_viewed", AT, anonymous_id="v9", path="/")])
    await eventually(lambda: _claimed(engine, "after"), 30, "an event behind the set-aside ones stored")
    ready = await engine_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["consumer"] == "ok", ready.text


async def _claimed(engine: AsyncEngine, event_id: str) -> bool:
    async with engine.connect() as conn:
        return bool(await conn.scalar(text("SELECT 1 FROM processed_events WHERE event_id = :e"), {"e": event_id}))
