"""Poison never blocks; duplicates are stored once; two engines in one group build the same store as one."""

from __future__ import annotations

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.envelope import encode
from services.common.migrate import upgrade
from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.integration.engine.workload import all_processed, fingerprint, workload
from tests.stack import consume, eventually, unique


async def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_events_behind_it_are_processed(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    await producer.send(
        [
            envelope(
                "p1", "form_submitted", "2026-10-01T09:00:00+00:00", lead_id="P1", form_id="f", email="p@example.com"
            )
        ]
    )
    await producer.send_raw(b"{not json", key=b"P1")
    await producer.send(
        [
            envelope(
                "p2",
                "opportunity_won",
                "2026-10-01T10:00:00+00:00",
                lead_id="P1",
                opportunity_id="o",
                amount="not a number",
            ),
            envelope("p3", "lead_accepted", "2026-10-01T11:00:00+00:00", lead_id="P1"),
        ]
    )
    app = create_app(engine_settings)
    async with app.router.lifespan_context(app):
        await eventually(lambda: _stage_of(engine, "P1", "sal"), 30, "the event behind the poison processed")
    dead = await consume(engine_settings, engine_settings.dead_letter_topic, 2)
    assert len(dead) == 2
    reasons = [dict(r.headers)["reason"].decode() for r in dead]
    assert "not a stagetrack event envelope" in reasons[0]
    assert "p2" in reasons[1] and "amount" in reasons[1]
    assert dead[0].value == b"{not json"
    assert orjson.loads(dead[1].value)["event_id"] == "p2"


async def _stage_of(engine: AsyncEngine, crm_id: str, stage: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT s.state->>'stage' FROM lead_identities i JOIN lead_snapshots s USING (lead_id) "
                "WHERE i.kind = 'crm' AND i.value = :v"
            ),
            {"v": crm_id},
        )
    return found == stage


async def test_two_engines_in_one_group_build_the_same_store_as_one(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    events = workload(unique("w"), persons=400)
    distinct = await producer.send_keyed(events)

    first, second = create_app(engine_settings), create_app(engine_settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        await eventually(lambda: all_processed(engine, distinct), 120, f"{distinct} events processed by two engines")
    two = await fingerprint(engine)

    reference_schema = unique("ref")
    await upgrade(engine_settings.database_url, reference_schema)
    solo_settings = EngineSettings(
        **{
            **engine_settings.model_dump(exclude={"port"}),
            "database_schema": reference_schema,
            "consumer_group": unique("solo"),
        }
    )
    reference = db.create_engine(engine_settings.database_url, reference_schema)
    try:
        solo = create_app(solo_settings)
        async with solo.router.lifespan_context(solo):
            await eventually(lambda: all_processed(reference, distinct), 120, "the single engine processed everything")
        assert await fingerprint(reference) == two
        assert len(two) > distinct  # a real store: several domain events per envelope
    finally:
        await reference.dispose()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{reference_schema}" CASCADE'))


async def test_one_person_on_two_partitions_under_two_engines_ends_as_one_lead(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    """The page view (keyed by cookie) and the form (keyed by CRM id) land on different partitions and can be
    decided concurrently by two engines: identities stay single-owned and every person is one live lead."""
    run, persons = unique("r"), 300
    for n in range(persons):
        await producer.producer.send(
            producer.topic,
            encode(
                envelope(
                    f"{run}-v{n}", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id=f"{run}-a{n}", path="/"
                )
            ),
            key=f"{run}-a{n}".encode(),
        )
        await producer.producer.send(
            producer.topic,
            encode(
                envelope(
                    f"{run}-f{n}",
                    "form_submitted",
                    "2026-10-01T09:01:00+00:00",
                    anonymous_id=f"{run}-a{n}",
                    lead_id=f"{run}-L{n}",
                    form_id="f",
                    email=f"{n}@{run}.test",
                )
            ),
            key=f"{run}-L{n}".encode(),
        )
    await producer.producer.flush()
    first, second = create_app(engine_settings), create_app(engine_settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        await eventually(lambda: all_processed(engine, 2 * persons), 120, "both events of every person processed")
    async with engine.connect() as conn:
        live = await conn.scalar(text("SELECT count(*) FROM lead_snapshots WHERE state->>'merged_into' IS NULL"))
        owners = (
            (
                await conn.execute(
                    text(
                        "SELECT count(DISTINCT lead_id) FROM lead_identities WHERE kind IN ('anonymous', 'crm') "
                        "GROUP BY substring(value from '[0-9]+$')"
                    )
                )
            )
            .scalars()
            .all()
        )
        dangling = await conn.scalar(
            text(
                "SELECT count(*) FROM lead_identities i JOIN lead_snapshots s USING (lead_id) "
                "WHERE s.state->>'merged_into' IS NOT NULL"
            )
        )
        scores = (
            (
                await conn.execute(
                    text("SELECT (state->>'score')::int FROM lead_snapshots WHERE state->>'merged_into' IS NULL")
                )
            )
            .scalars()
            .all()
        )
    assert live == persons
    assert owners == [1] * persons  # a person's cookie and CRM id point at the same lead
    assert dangling == 0  # no identity left on an absorbed lead
    assert scores == [11] * persons  # the page view (1) and the form (10) counted once each
