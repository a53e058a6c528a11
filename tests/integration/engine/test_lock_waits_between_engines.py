"""A batch waiting for the batches in front of it (adapters/batch_handoff.py) holds no lock that another engine's
writing batch waits for. Otherwise two engines can wait on each other: engine 2's batch D waits for its batch in
front C, C waits for a lock engine 1's batch A holds, A waits for a lock D holds (seen in CI, when the wait was in
the application, as a two-engine run that stopped making progress; in PostgreSQL the detector would roll one back
after a second). And the batch behind waits for the ones in front in PostgreSQL, deciding meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.stage_model.model import default_model
from services.stage_engine.adapters.batch_handoff import Handoff, new_token
from services.stage_engine.adapters.counted_dead_letters import CountedDeadLetters
from services.stage_engine.adapters.log_reader import LogReader
from services.stage_engine.adapters.store import EventStore, StoreTransaction
from services.stage_engine.adapters.store_errors import IdentityRace
from services.stage_engine.app.processor import BatchProcessor, EngineMetrics
from services.stage_engine.app.settings import EngineSettings
from services.stage_engine.domain.batch import BatchOutcome
from tests.integration.engine.conftest import Producer, envelope
from tests.stack import eventually


async def test_a_writing_batch_never_waits_for_another_engines_batch_that_waits_for_its_batch_in_front(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    # one person: a form under one cookie reaches engine 2, the same email under another cookie engine 1
    await producer.send(
        [
            envelope("d1", "form_submitted", "2026-10-01T09:00:00+00:00", anonymous_id="c-d", email="x@example.com"),
            envelope("a1", "form_submitted", "2026-10-01T09:05:00+00:00", anonymous_id="c-a", email="x@example.com"),
        ]
    )
    records = await _records(engine_settings, 2)
    engine_1, engine_2 = _processor(engine, engine_settings), _processor(engine, engine_settings)

    # engine 2: batch C in front has decided and is still writing (its transaction holds its token, here);
    # D behind it decides and waits for C's end
    in_front = Handoff()
    in_front.outcome, in_front.token = BatchOutcome(), new_token()
    in_front.decided.set()
    behind = Handoff(in_front)
    async with engine.connect() as batch_c:
        await batch_c.execute(text("SELECT pg_advisory_xact_lock(:token)"), {"token": in_front.token})
        batch_d = asyncio.create_task(engine_2.process([records["d1"]], in_front, behind))
        await asyncio.wait_for(behind.decided.wait(), 10)
        try:
            # engine 1's batch A creates the same email identity: it must commit while D waits
            await asyncio.wait_for(engine_1.process([records["a1"]]), 10)
            assert not batch_d.done()
        finally:
            await batch_c.commit()  # C commits: D writes (and retries: the email is A's lead's now)
            in_front.commit_done()
            await asyncio.wait_for(batch_d, 30)

    async with engine.connect() as conn:
        owners = (await conn.execute(text("SELECT kind, lead_id FROM lead_identities ORDER BY kind"))).all()
    assert [kind for kind, _ in owners] == ["anonymous", "anonymous", "email_hash"]
    assert len({lead for _, lead in owners}) == 1  # one person, one lead: D's cookie joined A's lead


async def test_a_batch_waiting_longer_than_the_lock_timeout_rolls_back_and_is_retried(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    await producer.send(
        [
            envelope("f1", "form_submitted", "2026-10-01T09:00:00+00:00", lead_id="L1", email="l@example.com"),
            envelope("f2", "lead_accepted", "2026-10-01T10:00:00+00:00", lead_id="L1"),
        ]
    )
    records = await _records(engine_settings, 2)
    impatient = db.create_engine(
        engine_settings.database_url, engine_settings.database_schema, lock_timeout_seconds=0.2
    )
    registry = CollectorRegistry()
    processor = _processor(impatient, engine_settings, registry)
    try:
        await processor.process([records["f1"]])
        async with engine.begin() as holder:  # someone else holds the lead for longer than the timeout
            await holder.execute(text("SELECT 1 FROM lead_snapshots FOR UPDATE"))
            batch = asyncio.create_task(processor.process([records["f2"]]))

            def retried() -> bool:
                return (registry.get_sample_value("stagetrack_engine_batch_retries_total") or 0) >= 2

            await eventually(_async(retried), 10, "the batch retried after lock timeouts")
            assert not batch.done()
        await asyncio.wait_for(batch, 10)  # the lock is released: the retry commits
    finally:
        await impatient.dispose()
    async with engine.connect() as conn:
        stage = await conn.scalar(text("SELECT state->>'stage' FROM lead_snapshots"))
    assert stage == "sal"


async def test_a_batch_takes_a_lead_the_batch_in_front_locked_without_waiting_for_its_commit(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the batch in front locks the lead and changes nothing (a custom event no rule scores); the batch behind
    # scores the same lead: it must decide while the batch in front still holds its lock, not after the commit
    await producer.send(
        [
            envelope("v1", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="c-1", path="/a"),
            envelope("t1", "tracked", "2026-10-01T09:01:00+00:00", anonymous_id="c-1", name="played video"),
            envelope("v2", "page_viewed", "2026-10-01T09:02:00+00:00", anonymous_id="c-1", path="/b"),
        ]
    )
    records = await _records(engine_settings, 3)
    processor = _processor(engine, engine_settings)
    await processor.process([records["v1"]])

    gate = _hold_the_write_of("t1", monkeypatch)  # the batch in front writes (and commits) once the gate opens
    in_front = Handoff()
    behind = Handoff(in_front)
    batch_in_front = asyncio.create_task(processor.process([records["t1"]], None, in_front))
    await asyncio.wait_for(in_front.decided.wait(), 10)
    batch_behind = asyncio.create_task(processor.process([records["v2"]], in_front, behind))
    try:
        await asyncio.wait_for(behind.decided.wait(), 10)
        assert not batch_in_front.done()
    finally:
        gate.set()
        await asyncio.wait_for(asyncio.gather(batch_in_front, batch_behind), 30)

    async with engine.connect() as conn:
        lead = (await conn.execute(text("SELECT version, state->>'score' FROM lead_snapshots"))).one()
        causes = (await conn.execute(text("SELECT cause_event_id FROM lead_events ORDER BY position"))).scalars()
        assert (lead[0], lead[1], list(causes)) == (5, "2", ["v1", "v1", "v1", "v1", "v2"])


async def test_the_batch_behind_waits_in_postgresql_for_the_one_in_front_and_rolls_back_with_it(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the batch behind sends its write while the batch in front has not written yet: PostgreSQL holds it until
    # the batch in front ends; that batch's first attempt then rolls back after writing, and so must the batch
    # behind, which had used its outcome; both are stored once, in log order
    await producer.send(
        [
            envelope("f1", "form_submitted", "2026-10-01T09:00:00+00:00", lead_id="L1", email="l@example.com"),
            envelope("f2", "lead_accepted", "2026-10-01T10:00:00+00:00", lead_id="L1"),
        ]
    )
    records = await _records(engine_settings, 2)
    processor = _processor(engine, engine_settings)
    gate, write, attempts = asyncio.Event(), StoreTransaction.write, []

    async def held_write(tx: StoreTransaction, outcome: BatchOutcome, *args: Any, **kwargs: Any) -> None:
        if "f1" not in outcome.applied:
            await write(tx, outcome, *args, **kwargs)
            return
        await gate.wait()
        await write(tx, outcome, *args, **kwargs)
        attempts.append(outcome)
        if len(attempts) == 1:  # a conflict found after the write: the attempt rolls back and is retried
            raise IdentityRace("the first attempt of the batch in front rolls back")

    monkeypatch.setattr(StoreTransaction, "write", held_write)
    in_front = Handoff()
    behind = Handoff(in_front)
    batch_in_front = asyncio.create_task(processor.process([records["f1"]], None, in_front))
    await asyncio.wait_for(in_front.decided.wait(), 10)
    batch_behind = asyncio.create_task(processor.process([records["f2"]], in_front, behind))
    try:
        await eventually(lambda: _waiting_for_a_token(engine), 10, "the write behind waits in PostgreSQL")
        assert not batch_behind.done()
    finally:
        gate.set()
        await asyncio.wait_for(asyncio.gather(batch_in_front, batch_behind), 30)

    assert len(attempts) == 2
    async with engine.connect() as conn:
        stage = await conn.scalar(text("SELECT state->>'stage' FROM lead_snapshots"))
        causes = (await conn.execute(text("SELECT cause_event_id FROM lead_events ORDER BY position"))).scalars()
        causes_in_order = list(causes)
    assert stage == "sal"
    assert causes_in_order == sorted(causes_in_order) and "f2" in causes_in_order  # f1's events, then f2's
    assert causes_in_order.count("f2") == 1


async def test_a_batch_takes_a_lead_the_batch_two_in_front_changed_without_waiting_for_its_commit(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # three batches in flight: the first creates the lead and is held before its write, the second is about
    # someone else, the third accepts the lead: it must decide from the first batch's hand-over while that batch
    # has not committed, and everything is stored once, in log order
    await producer.send(
        [
            envelope("f1", "form_submitted", "2026-10-01T09:00:00+00:00", lead_id="L1", email="l@example.com"),
            envelope("v1", "page_viewed", "2026-10-01T09:30:00+00:00", anonymous_id="c-2", path="/a"),
            envelope("f2", "lead_accepted", "2026-10-01T10:00:00+00:00", lead_id="L1"),
        ]
    )
    records = await _records(engine_settings, 3)
    processor = _processor(engine, engine_settings)
    gate = _hold_the_write_of("f1", monkeypatch)
    first = Handoff()
    second = Handoff(first)
    third = Handoff(second)
    batches = [asyncio.create_task(processor.process([records["f1"]], None, first))]
    try:
        await asyncio.wait_for(first.decided.wait(), 10)
        batches.append(asyncio.create_task(processor.process([records["v1"]], first, second)))
        await asyncio.wait_for(second.decided.wait(), 10)
        batches.append(asyncio.create_task(processor.process([records["f2"]], second, third)))
        await asyncio.wait_for(third.decided.wait(), 10)
        assert not any(batch.done() for batch in batches)
    finally:
        gate.set()
        await asyncio.wait_for(asyncio.gather(*batches), 30)

    async with engine.connect() as conn:
        stage = await conn.scalar(
            text(
                "SELECT s.state->>'stage' FROM lead_snapshots s JOIN lead_identities i USING (lead_id) "
                "WHERE i.value = 'L1'"
            )
        )
        rows = await conn.execute(text("SELECT cause_event_id FROM lead_events ORDER BY position"))
        causes = list(rows.scalars())
    assert stage == "sal"
    assert [cause for n, cause in enumerate(causes) if n == 0 or causes[n - 1] != cause] == ["f1", "v1", "f2"]


def _hold_the_write_of(event_id: str, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The batch that applies `event_id` writes only once the returned gate is set."""
    gate, write = asyncio.Event(), StoreTransaction.write

    async def held_write(tx: StoreTransaction, outcome: BatchOutcome, *args: Any, **kwargs: Any) -> None:
        if event_id in outcome.applied:
            await gate.wait()
        await write(tx, outcome, *args, **kwargs)

    monkeypatch.setattr(StoreTransaction, "write", held_write)
    return gate


async def _waiting_for_a_token(engine: AsyncEngine) -> bool:
    """A backend of this database waits for a bigint advisory lock (only batch tokens are such locks)."""
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    return bool(waiting)


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def polled() -> bool:
        return check()

    return polled


def _processor(
    engine: AsyncEngine, settings: EngineSettings, registry: CollectorRegistry | None = None
) -> BatchProcessor:
    return BatchProcessor(
        EventStore(engine),
        default_model(),
        settings.identity_hash_key.get_secret_value().encode(),
        CountedDeadLetters(),
        settings.consumer_group,
        EngineMetrics.register(registry or CollectorRegistry()),
    )


async def _records(settings: EngineSettings, count: int) -> dict[str, ConsumerRecord]:
    """The records as the engine's consumer gets them, by event id."""
    reader = LogReader(settings.kafka_bootstrap_servers, settings.events_topic)
    await reader.start()
    try:
        found: dict[str, ConsumerRecord] = {}
        for partition in reader.partitions:
            while batch := await reader.read(partition):
                found.update((_event_id(r), r) for r in batch)
    finally:
        await reader.stop()
    assert len(found) == count
    return found


def _event_id(record: ConsumerRecord) -> str:
    return str(orjson.loads(record.value)["event_id"])
