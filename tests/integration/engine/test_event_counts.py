"""The engine's outcome counters equal what is in the topic: every distinct event id counts once as applied and
every repeated one once as a duplicate, on a fresh consumer group and after a restart."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer
from tests.integration.engine.workload import all_processed, workload
from tests.stack import eventually, unique


async def outcomes(client: httpx.AsyncClient) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith('stagetrack_engine_events_total{outcome="'):
            name, value = line.split('"')[1], float(line.rsplit(" ", 1)[1])
            found[name] = value
    return found


async def test_duplicates_counted_equal_the_duplicates_in_the_topic(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, engine_client: httpx.AsyncClient
) -> None:
    events = workload(unique("w"), persons=1500)
    distinct = await producer.send_keyed(events)
    repeated = len(events) - distinct
    assert repeated > 50

    await eventually(lambda: all_processed(engine, distinct), 120, f"{distinct} events processed")

    async def all_counted() -> dict[str, float] | None:
        counted = await outcomes(engine_client)
        return counted if sum(counted.values()) >= len(events) else None

    counted = await eventually(all_counted, 30, f"{len(events)} records counted")
    assert counted == {"applied": distinct, "duplicate": repeated, "dead_lettered": 0}


async def test_a_restarted_engine_counts_only_the_records_after_its_stored_offsets(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    """Kafka holds no offsets for the group (they live in PostgreSQL): a restarted consumer starts fetching from
    the log's start before it is told the stored offsets, and must not take what it fetched meanwhile."""
    before = workload(unique("a"), persons=400)
    stored = await producer.send_keyed(before)
    first = create_app(engine_settings)
    async with first.router.lifespan_context(first):
        await eventually(lambda: all_processed(engine, stored), 120, f"{stored} events processed")

    after = workload(unique("b"), persons=100, seed=8)
    distinct = await producer.send_keyed(after)
    second = create_app(engine_settings)
    transport = httpx.ASGITransport(app=second)
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=transport, base_url="http://e") as client,
    ):
        await eventually(lambda: all_processed(engine, stored + distinct), 120, "the new events processed")

        async def all_counted() -> dict[str, float] | None:
            counted = await outcomes(client)
            return counted if sum(counted.values()) >= len(after) else None

        counted = await eventually(all_counted, 30, f"{len(after)} records counted")
    assert counted == {"applied": distinct, "duplicate": len(after) - distinct, "dead_lettered": 0}
