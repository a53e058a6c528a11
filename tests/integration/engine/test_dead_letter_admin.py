"""`list_dead_letters` shows what the engine set aside and why; `redrive` sends chosen records through again,
each once: an id not on the dead-letter topic is refused before anything is published."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.app.dead_letter_admin import list_dead_letters, redrive
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.integration.engine.test_event_counts import outcomes
from tests.stack import eventually

AT = "2026-10-01T09:00:00+00:00"


async def test_dead_letters_are_listed_with_their_reason_and_redriven_by_id_once(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, engine_client: httpx.AsyncClient
) -> None:
    await producer.send_raw(b"{not json", key=b"k")
    won = envelope("w1", "opportunity_won", AT, lead_id="K", opportunity_id="o", amount="not a number")
    await producer.send([won])

    async def two_dead() -> bool:
        return (await outcomes(engine_client)).get("dead_lettered") == 2

    await eventually(two_dead, 30, "both records set aside")
    listed = await list_dead_letters(engine_settings)
    assert [(e.event_id, e.redriven) for e in sorted(listed, key=lambda e: e.event_id or "")] == [
        (None, False),
        ("w1", False),
    ]
    unreadable, refused = sorted(listed, key=lambda e: e.event_id or "")
    assert "not a stagetrack event envelope" in unreadable.reason and unreadable.value == b"{not json"
    assert refused.reason.startswith("event w1: ") and "amount" in refused.reason
    assert refused.topic == engine_settings.events_topic and refused.partition >= 0 and refused.offset >= 0
    assert re.fullmatch(r"engine:\d+:\d+", refused.id), refused.id

    with pytest.raises(LookupError, match="engine:99:99"):
        await redrive(engine_settings, [refused.id, "engine:99:99"])
    assert await redrive(engine_settings, [refused.id]) == 1
    assert await redrive(engine_settings, [refused.id]) == 0

    # its cause is not fixed: it is set aside again, as a new dead letter (its id was never claimed)
    async def three_dead() -> bool:
        return (await outcomes(engine_client)).get("dead_lettered") == 3

    await eventually(three_dead, 30, "the redriven event set aside again")
    again = await list_dead_letters(engine_settings)
    assert sorted((e.event_id or "", e.redriven) for e in again) == [("", False), ("w1", False), ("w1", True)]
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM processed_events WHERE event_id = 'w1'")) == 0
