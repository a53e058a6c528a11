"""Projections never skip (ARCHITECTURE guarantee 4; done-when 5): an append transaction held open while later
appends try to commit, the projector running meanwhile, then the held one committing.

The first test drives the engine's real store code (`StoreTransaction.write`): if the store stopped assigning
positions in commit order (its advisory lock gone), the later appends would commit past the held one, the
projector would move its checkpoint beyond the held positions, and the held lead would never be projected:
the test would fail. The second test shows exactly that failure with a writer that skips the lock, so the
hazard is real and the first test can see it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.lead_events.event_codec import to_dict
from services.common.lead_events.events import DomainEvent, LeadCreated, StageChanged
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from services.kpi.adapters.transaction import transaction
from services.kpi.app.projector import Projector
from services.stage_engine.adapters.store import EventStore
from services.stage_engine.domain.batch import BatchOutcome
from tests.stack import eventually

MODEL = default_model()
AT = datetime(2026, 10, 1, 9, tzinfo=UTC)


def new_visitor(lead: str) -> list[tuple[DomainEvent, int]]:
    created = LeadCreated(lead_id=lead, cause_event_id=f"{lead}-e", occurred_at=AT, model_version=MODEL.version)
    entered = StageChanged(
        lead_id=lead, cause_event_id=f"{lead}-e", occurred_at=AT, from_stage=None, to_stage="visitor",
        to_division="marketing", rule="first_seen", via=(), model_version=MODEL.version, event_occurred_at=AT,
        from_entered_at=None, sla_due_at=None,
    )  # fmt: skip
    return [(created, 1), (entered, 2)]


async def store_append(
    store: EventStore, lead: str, pids: list[int], taken: asyncio.Event | None = None, hold: asyncio.Event | None = None
) -> None:
    """One batch transaction of the engine's store appending a new visitor; optionally held open after it."""
    async with store.transaction() as tx:
        pids.append(int(await tx.conn.fetchval("SELECT pg_backend_pid()")))
        await tx.write(BatchOutcome(appended=new_visitor(lead)), "test", {})
        if taken and hold:
            taken.set()
            await hold.wait()


async def naive_append(
    engine: AsyncEngine, lead: str, taken: asyncio.Event | None = None, hold: asyncio.Event | None = None
) -> None:
    """The bug the design prevents: positions from the sequence without the append lock."""
    async with transaction(engine) as conn:
        for event, version in new_visitor(lead):
            data = to_dict(event)
            await conn.execute(
                "INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data) "
                "VALUES (nextval('lead_event_position_seq'), $1, $2, $3, $4, $5, $6::text::jsonb)",
                lead, version, data["type"], event.cause_event_id, AT, orjson.dumps(data).decode(),
            )  # fmt: skip
        if taken and hold:
            taken.set()
            await hold.wait()


async def transitions_by_lead(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT lead_id, count(*) FROM kpi_transitions GROUP BY 1"))
        return {lead: int(n) for lead, n in rows}


async def projected(engine: AsyncEngine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        return (
            int(await conn.scalar(text("SELECT count(*) FROM kpi_stays")) or 0),
            int(await conn.scalar(text("SELECT count(*) FROM kpi_leads")) or 0),
            int(await conn.scalar(text("SELECT position FROM kpi_checkpoint")) or 0),
        )


def projector(engine: AsyncEngine) -> Projector:
    return Projector(engine, MODEL, CollectorRegistry(), batch=1)


async def test_an_append_held_open_is_projected_once_after_it_commits(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    store, pids = EventStore(engine), []
    await store_append(store, "early", pids)
    assert await projector(engine).catch_up() == 2

    taken, hold = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(store_append(store, "held", pids, taken, hold))
    await asyncio.wait_for(taken.wait(), 10)  # its positions are taken; it has not committed
    later = [asyncio.create_task(store_append(store, f"later{i}", pids)) for i in range(3)]

    async def each_later_waits_or_committed() -> bool:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids) "
                    "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                ),
                {"pids": pids[2:]},
            )
        return len(pids) == 5 and int(waiting or 0) + sum(t.done() for t in later) == len(later)

    await eventually(each_later_waits_or_committed, 10, "the later appends waiting for the held one, or committed")
    one, two = projector(engine), projector(engine)
    await asyncio.gather(one.catch_up(), two.catch_up())  # two replicas while the held one is open
    assert "held" not in await transitions_by_lead(engine)

    hold.set()
    await asyncio.gather(held, *later)
    counts = await asyncio.gather(one.catch_up(), two.catch_up(), projector(engine).catch_up())
    assert sum(counts) == 8  # the held lead and the three later ones, each record applied once in all

    expected = {lead: 1 for lead in ("early", "held", "later0", "later1", "later2")}
    assert await transitions_by_lead(engine) == expected  # nothing skipped, nothing counted twice
    async with engine.connect() as conn:
        head = int(await conn.scalar(text("SELECT max(position) FROM lead_events")) or 0)
    assert await projected(engine) == (5, 5, head)


async def test_without_the_append_lock_a_reader_by_position_skips_the_late_commit(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    taken, hold = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(naive_append(engine, "held", taken, hold))
    await asyncio.wait_for(taken.wait(), 10)
    await naive_append(engine, "later")  # commits first, with larger positions
    reader = projector(engine)
    assert await reader.catch_up() == 2
    hold.set()
    await held
    assert await reader.catch_up() == 0  # the held rows sit below the checkpoint now
    assert await transitions_by_lead(engine) == {"later": 1}  # "held" was skipped: the bug guarantee 4 names
