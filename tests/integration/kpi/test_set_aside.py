"""A store record the projections cannot hold is set aside with its reason; every other record is projected
exactly once, the checkpoint and the lag move on, /readyz stays 200; redrive projects it once the cause is
fixed, leaving the tables byte-identical to a rebuild's (docs/kpi.md "Set aside")."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.kpi.app.bootstrap import create_app
from services.kpi.app.projector import Projector
from services.kpi.app.rebuild import rebuild
from services.kpi.app.set_aside_admin import list_set_aside, redrive
from services.kpi.app.settings import KpiSettings
from tests.integration.kpi.conftest import checksums, store_head
from tests.integration.kpi.store_rows import (
    AT,
    MAX_AMOUNT,
    MODEL,
    TOO_LARGE,
    StoreWriter,
    booking,
    hours,
    moved,
    visitor,
)
from tests.keys import bearer, new_key
from tests.stack import eventually

MANY = 60  # bookings of the largest amount: their sum needs 22 digits


@contextlib.asynccontextmanager
async def kpi_app(settings: KpiSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=lambda: AT + hours(24 * 30))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = bearer(await new_key(app.state.db, "read:kpi"))
        async with httpx.AsyncClient(transport=transport, base_url="http://kpi", headers=headers) as client:
            yield client


def sample(metrics: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found[1])


async def counts(engine: AsyncEngine, table: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT lead_id, count(*) FROM {table} GROUP BY 1"))
        return {lead: int(n) for lead, n in rows}


async def checkpoint(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT position FROM kpi_checkpoint WHERE name = 'projections'")) or 0)


async def test_the_largest_amount_counts_exactly_and_the_next_one_up_is_set_aside(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    store = StoreWriter()
    await store.append(engine, visitor("rich"))
    await store.append(engine, [booking("rich", MAX_AMOUNT, AT + hours(1), n) for n in range(MANY)])
    (refused,) = await store.append(engine, [booking("rich", TOO_LARGE, AT + hours(2), MANY)])
    await store.append(engine, [*visitor("after", AT + hours(3)), booking("after", "5", AT + hours(4))])

    kpi_settings = KpiSettings(database_schema=settings.database_schema, metrics_cache_seconds=0)
    async with kpi_app(kpi_settings) as client:

        async def caught_up() -> str | None:
            metrics = (await client.get("/metrics")).text
            lag = sample(metrics, "stagetrack_kpi_projection_lag_events")
            return metrics if lag == 0 and sample(metrics, "stagetrack_kpi_set_aside_total") == 1 else None

        metrics = await eventually(caught_up, 30, "the projector past the refused record")
        revenue = (await client.get("/v1/kpi/revenue", params={"from": "2026-10-01", "to": "2026-10-02"})).json()
        ready = await client.get("/readyz")

    total = "600000000000000004.994"  # 60 x 9999999999999999.9999 + 5, to the last digit
    assert Decimal(total) == Decimal(MAX_AMOUNT) * MANY + 5
    assert revenue["by_kind"]["new"] == {"count": MANY + 1, "amount": total}
    assert revenue["shared"] == {"count": MANY + 1, "amount": total}
    assert revenue["attributed"]["new"]["marketing"] == total
    # Prometheus values are float64: the sum is shown to 16 significant digits (the JSON API has it exactly).
    assert sample(metrics, 'stagetrack_revenue_total{kind="new"}') == float(Decimal(total))
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": "ok", "projector": "ok"}

    (entry,) = await list_set_aside(kpi_settings)
    assert (entry.id, entry.lead_id, entry.type) == (f"kpi:{refused}", "rich", "RevenueBooked")
    assert "22003" in entry.reason and "numeric field overflow" in entry.reason, entry.reason
    assert await counts(engine, "kpi_revenue") == {"rich": MANY, "after": 1}  # each once, the refused one not
    assert await counts(engine, "kpi_transitions") == {"rich": 1, "after": 1}
    assert await checkpoint(engine) == await store_head(engine)
    assert sample(metrics, "stagetrack_kpi_set_aside_records") == 1


async def test_a_record_refused_by_a_constraint_is_found_in_a_large_batch_and_redriven_once(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    store = StoreWriter()
    leads = [f"l{n:03}" for n in range(80)]
    for n, lead in enumerate(leads):
        if n == 37:
            refused = await store.append(engine, [*visitor("refused"), moved("refused", "visitor", "lead", AT)])
        await store.append(engine, [*visitor(lead), moved(lead, "visitor", "lead", AT + hours(1))])
    async with engine.begin() as conn:  # a refusal the door cannot see: the database's own constraint
        await conn.execute(text("ALTER TABLE kpi_transitions ADD CONSTRAINT no_refused CHECK (lead_id <> 'refused')"))

    registry = CollectorRegistry()
    projector = Projector(engine, MODEL, registry, batch=1000)  # everything in one batch, split to find them
    assert await projector.catch_up() == len(store.positions)

    assert await checkpoint(engine) == await store_head(engine)
    assert await counts(engine, "kpi_transitions") == dict.fromkeys(leads, 2)  # each once; the refused lead's none
    assert await counts(engine, "kpi_leads") == dict.fromkeys([*leads, "refused"], 1)
    kpi_settings = KpiSettings(database_schema=settings.database_schema)
    entries = await list_set_aside(kpi_settings)
    assert [e.id for e in entries] == [f"kpi:{p}" for p in refused[1:]]  # its two stage changes
    assert all("23514" in e.reason and "no_refused" in e.reason for e in entries), entries
    assert registry.get_sample_value("stagetrack_kpi_set_aside_total") == 2
    assert registry.get_sample_value("stagetrack_kpi_projected_events_total") == len(store.positions) - 2

    async with engine.begin() as conn:  # the cause fixed
        await conn.execute(text("ALTER TABLE kpi_transitions DROP CONSTRAINT no_refused"))
    assert await redrive(kpi_settings, ["engine:7", entries[0].id]) == 1  # another service's ids are not ours
    assert await redrive(kpi_settings, None) == 1
    assert await redrive(kpi_settings, None) == 0  # nothing left: a second redrive changes nothing
    assert await list_set_aside(kpi_settings) == []
    assert await counts(engine, "kpi_transitions") == dict.fromkeys([*leads, "refused"], 2)

    # The redriven records land where an in-order projection puts them: stays, flows, summaries and all.
    redriven = await checksums(engine)
    await rebuild(engine, MODEL)
    assert await checksums(engine) == redriven


async def test_a_redrive_of_a_stage_change_after_the_lead_moved_on_keeps_its_stays_in_order(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    """The set-aside visitor -> lead is redriven after lead -> mql was projected: the lead is in mql, and its
    lead stay is where it belongs in time."""
    await upgrade(settings.database_url, settings.database_schema)
    store = StoreWriter()
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE kpi_transitions ADD CONSTRAINT no_lead CHECK (to_stage <> 'lead')"))
    await store.append(engine, [*visitor("x"), moved("x", "visitor", "lead", AT + hours(1))])
    await store.append(engine, [moved("x", "lead", "mql", AT + hours(5))])
    assert await Projector(engine, MODEL, CollectorRegistry()).catch_up() == 4
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE kpi_transitions DROP CONSTRAINT no_lead"))

    assert await redrive(KpiSettings(database_schema=settings.database_schema), None) == 1
    async with engine.connect() as conn:
        stays = (await conn.execute(text("SELECT stage, entered_at, exited_at FROM kpi_stays ORDER BY seq"))).all()
    assert [tuple(s) for s in stays] == [
        ("visitor", AT, AT + hours(1)),
        ("lead", AT + hours(1), AT + hours(5)),
        ("mql", AT + hours(5), None),
    ]
    redriven = await checksums(engine)
    await rebuild(engine, MODEL)
    assert await checksums(engine) == redriven
