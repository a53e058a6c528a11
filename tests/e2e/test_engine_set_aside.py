"""The engine served as a real process against failures the ingest cannot see at its door: a row the store
refuses (a constraint the test adds) is set aside and the rest goes on; a lock held open wedges it and it says
so; a store that refuses everything trips the brake, and a redrive stores what was set aside, once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event, encode
from services.common.kafka import durable_producer
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.stage_engine.app.dead_letter_admin import list_dead_letters, redrive
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import envelope
from tests.stack import consume, eventually, served, unique

AT = "2026-10-01T09:00:00+00:00"


async def produce(settings: ServiceSettings, events: Sequence[Event], key: bytes = b"one-partition") -> None:
    """Straight to the events topic, all on one partition: the engine fetches them as one batch."""
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            await producer.send(settings.events_topic, encode(event), key=key)
        await producer.flush()
    finally:
        await producer.stop()


def visits(run: str, count: int, start: int = 0) -> list[Event]:
    return [
        envelope(f"{run}-{n}", "page_viewed", AT, anonymous_id=f"{run}-visitor-{n}", path="/")
        for n in range(start, start + count)
    ]


async def metric(client: httpx.AsyncClient, line_start: str) -> float | None:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def stored_causes(engine: AsyncEngine) -> dict[str, int]:
    """Event id -> LeadCreated rows it wrote (a page view of a new visitor writes one)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT cause_event_id, count(*) FROM lead_events WHERE type = 'LeadCreated' GROUP BY 1")
        )
        return {cause: count for cause, count in rows}


DEAD = 'stagetrack_engine_events_total{outcome="dead_lettered"}'
STALLED = 'stagetrack_loop_stalled{loop="engine-consumer"}'
BRAKED = 'stagetrack_loop_braked{loop="engine-consumer"}'


async def test_a_row_the_store_refuses_is_dead_lettered_and_the_events_behind_it_are_stored_once(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    run = unique("r")
    poison = f"{run}-3"
    async with engine.begin() as conn:  # a failure only the store sees: the door cannot know this rule
        await conn.execute(
            text(f"ALTER TABLE lead_events ADD CONSTRAINT refuse_one CHECK (cause_event_id <> '{poison}')")
        )
    await produce(settings, visits(run, 8))

    group = {"STAGETRACK_CONSUMER_GROUP": unique("g")}
    async with (
        served("engine", settings, tmp_path / "engine.log", **group) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        await eventually(lambda: _at_least(client, DEAD, 1), 60, "the refused event dead-lettered")
        await eventually(lambda: _ids_stored(engine, 7), 30, "the other seven stored")
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert await metric(client, DEAD) == 1
        assert await metric(client, 'stagetrack_engine_events_total{outcome="applied"}') == 7

    assert await stored_causes(engine) == {f"{run}-{n}": 1 for n in range(8) if n != 3}
    dead = await consume(settings, settings.dead_letter_topic, 1)
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["event_id"].decode() == poison
    reason = headers["reason"].decode()
    assert reason.startswith(f"event {poison}: CheckViolationError: ") and "refuse_one" in reason, reason


async def test_a_wedged_engine_says_so_and_recovers_when_released(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    run = unique("w")
    wedge = {
        "STAGETRACK_STALL_AFTER_SECONDS": "2",
        "STAGETRACK_LOCK_TIMEOUT_SECONDS": "600",
        "STAGETRACK_CONSUMER_GROUP": unique("g"),
    }
    async with (
        served("engine", settings, tmp_path / "engine.log", **wedge) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        await eventually(lambda: _ready(client, 200), 30, "the engine ready")
        async with engine.connect() as holder:
            transaction = await holder.begin()
            await holder.execute(text("LOCK TABLE lead_events IN ACCESS EXCLUSIVE MODE"))
            await produce(settings, visits(run, 5))
            answer = await eventually(lambda: _ready(client, 503), 30, "/readyz 503 while the engine is wedged")
            assert "engine-consumer stalled" in answer["checks"]["consumer"], answer
            assert await metric(client, STALLED) == 1
            lag = "stagetrack_engine_consumer_lag"
            await eventually(lambda: _at_least(client, lag, 5), 10, "the lag counting the waiting events")
            await transaction.rollback()
        await eventually(lambda: _ids_stored(engine, 5), 30, "the waiting events stored once released")
        await eventually(lambda: _ready(client, 200), 30, "/readyz 200 again")
        assert await metric(client, STALLED) == 0
        await eventually(lambda: _equals(client, "stagetrack_engine_consumer_lag", 0), 10, "no backlog")


async def test_the_brake_stops_the_loop_and_a_redrive_stores_the_set_aside_events_once(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    run, log = unique("b"), tmp_path / "engine.log"
    env = {"STAGETRACK_SET_ASIDE_BRAKE_RUN": "3", "STAGETRACK_CONSUMER_GROUP": unique("g")}
    async with engine.begin() as conn:  # a bug that makes every event look bad
        await conn.execute(text("ALTER TABLE lead_events ADD CONSTRAINT refuse_all CHECK (false) NOT VALID"))
    await produce(settings, visits(run, 6))

    async with served("engine", settings, log, **env) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await eventually(lambda: _ready(client, 503), 60, "/readyz 503 once the brake engaged")
        assert "stopped after 3 consecutive set-aside events" in answer["checks"]["consumer"], answer
        assert await metric(client, BRAKED) == 1
        assert await metric(client, DEAD) == 3
    dead = await consume(settings, settings.dead_letter_topic, 3)
    assert [dict(r.headers)["event_id"].decode() for r in dead] == [f"{run}-{n}" for n in range(3)]

    async with engine.begin() as conn:  # the cause is fixed; the engine restarts from the stored offsets
        await conn.execute(text("ALTER TABLE lead_events DROP CONSTRAINT refuse_all"))
    async with served("engine", settings, log, **env) as url, httpx.AsyncClient(base_url=url) as client:
        await eventually(lambda: _ids_stored(engine, 3), 30, "the events behind the brake stored")
        assert set(await stored_causes(engine)) == {f"{run}-{n}" for n in range(3, 6)}

        engine_settings = EngineSettings(**settings.model_dump(exclude={"port"}))
        listed = await list_dead_letters(engine_settings)
        assert [(e.event_id, e.redriven) for e in listed] == [(f"{run}-{n}", False) for n in range(3)]
        assert all(e.reason.startswith(f"event {e.event_id}: CheckViolationError: ") for e in listed)
        assert await redrive(engine_settings) == 3
        await eventually(lambda: _ids_stored(engine, 6), 30, "the redriven events stored")
        assert await redrive(engine_settings) == 0  # a second redrive publishes nothing
        assert all(e.redriven for e in await list_dead_letters(engine_settings))
        await eventually(lambda: _equals(client, "stagetrack_engine_consumer_lag", 0), 10, "no backlog")
        assert (await client.get("/readyz")).status_code == 200
    assert await stored_causes(engine) == {f"{run}-{n}": 1 for n in range(6)}


async def _ready(client: httpx.AsyncClient, status: int) -> dict[str, dict[str, str]] | None:
    answer = await client.get("/readyz")
    return dict(answer.json()) if answer.status_code == status else None


async def _at_least(client: httpx.AsyncClient, name: str, value: float) -> bool:
    return (await metric(client, name) or 0) >= value


async def _equals(client: httpx.AsyncClient, name: str, value: float) -> bool:
    return await metric(client, name) == value


async def _ids_stored(engine: AsyncEngine, count: int) -> bool:
    return len(await stored_causes(engine)) >= count
