"""Two batches in flight (adapters/batch_handoff.py) build the same store as one batch at a time, with small
batches so that a person's events, identity links and merges straddle consecutive batches."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.migrate import upgrade
from services.stage_engine.adapters import consumer
from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer
from tests.integration.engine.workload import all_processed, fingerprint, workload
from tests.stack import eventually, unique

BATCH = 5


async def test_pipelined_small_batches_build_the_same_store_as_one_batch_at_a_time(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = workload(unique("w"), persons=150)
    distinct = await producer.send_keyed(events)

    pipelined = create_app(engine_settings.model_copy(update={"max_batch_records": BATCH}))
    async with pipelined.router.lifespan_context(pipelined):
        await eventually(lambda: all_processed(engine, distinct), 120, f"{distinct} events processed, pipelined")
    two_in_flight = await fingerprint(engine), await _identity_index(engine)
    assert await _out_of_store_order(engine) == 0

    reference_schema = unique("ref")
    await upgrade(engine_settings.database_url, reference_schema)
    reference = db.create_engine(engine_settings.database_url, reference_schema)
    monkeypatch.setattr(consumer, "IN_FLIGHT", 1)
    try:
        one_at_a_time = create_app(
            engine_settings.model_copy(
                update={"max_batch_records": BATCH, "database_schema": reference_schema, "consumer_group": unique("s")}
            )
        )
        async with one_at_a_time.router.lifespan_context(one_at_a_time):
            await eventually(lambda: all_processed(reference, distinct), 120, "the same events, one batch at a time")
        assert (await fingerprint(reference), await _identity_index(reference)) == two_in_flight
        assert len(two_in_flight[0]) > distinct
    finally:
        await reference.dispose()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{reference_schema}" CASCADE'))


async def _out_of_store_order(engine: AsyncEngine) -> int:
    """Events of one lead whose positions do not follow their versions (readers by position need them to)."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM lead_events a JOIN lead_events b "
                "ON a.lead_id = b.lead_id AND a.version < b.version AND a.position > b.position"
            )
        )
    return int(found or 0)


async def _identity_index(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    """identity -> lead, merges' re-pointing included."""
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT kind, value, lead_id FROM lead_identities ORDER BY kind, value"))
        return [(r[0], r[1], r[2]) for r in rows]
