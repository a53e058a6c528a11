"""The projector beside two live engines, checked against the engine's own lead snapshots; then
`stagetrack kpi rebuild` (and a projector starting from empty) give byte-identical tables (done-when 4)."""

from __future__ import annotations

import asyncio
import io
import random
from datetime import timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event
from services.common.stage_model.model import default_model
from services.kpi.adapters.projection_store import SUMMARIES
from services.kpi.app.projector import Projector
from services.kpi.app.rebuild import rebuild, run_rebuild
from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer
from tests.integration.engine.workload import START, workload
from tests.integration.kpi.conftest import checksums, kpi_settings, store_head
from tests.integration.kpi.summaries_check import summaries_agree
from tests.stack import eventually, unique

MODEL = default_model()


def customer_success_and_late_events(run: str, persons: int) -> list[tuple[bytes, Event]]:
    """Renewals, churn, feedback and late CRM events keyed by the CRM id (so on other partitions than the
    person's cookie events): more merges, late moves after merges, revenue of every kind, feedback."""
    rng = random.Random(11)
    extra: list[tuple[bytes, Event]] = []

    def add(n: int, kind: str, days: float, **properties: object) -> None:
        at = START + timedelta(days=days)
        crm = f"{run}-L{n}"
        extra.append(
            (crm.encode(), Event(f"{run}-{n}-x{len(extra)}", kind, at, "test", at, lead_id=crm, properties=properties))
        )

    for n in range(persons):
        roll = rng.random()
        if roll < 0.15:
            add(n, "lead_accepted", rng.uniform(0, 10))  # often earlier than the person's form: late
        elif roll < 0.25:
            add(n, "renewal_won", 80, amount=str(rng.randrange(1, 10**6)))
            add(n, "upsell_won", 81, amount="333")
        elif roll < 0.3:
            add(n, "churned", 85, reason="price")
        if rng.random() < 0.1:
            add(n, "feedback_submitted", 70, from_division="field_sales", to_division="inside_sales",
                about="meeting", rating=rng.randrange(1, 6), met_expectations=rng.random() < 0.5)  # fmt: skip
    return extra


async def processed(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM processed_events")) or 0)


async def test_projections_follow_live_engines_and_rebuild_to_identical_tables(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine
) -> None:
    run, persons = unique("k"), 300
    events = workload(run, persons) + customer_success_and_late_events(run, persons)
    distinct = await producer.send_keyed(events)

    settings = kpi_settings(engine_settings)
    registry = CollectorRegistry()
    projector = Projector(engine, MODEL, registry, batch=50, idle_seconds=0.05)
    running = asyncio.create_task(projector.run())  # beside the engines: batches cut wherever they fall
    try:
        first, second = create_app(engine_settings), create_app(engine_settings)
        async with first.router.lifespan_context(first), second.router.lifespan_context(second):

            async def all_processed() -> bool:
                return await processed(engine) == distinct

            await eventually(all_processed, 180, f"{distinct} envelopes processed by two engines")
        head = await store_head(engine)

        async def caught_up() -> bool:
            return registry.get_sample_value("stagetrack_kpi_projected_position") == head

        await eventually(caught_up, 60, f"the projector reaching position {head}")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert registry.get_sample_value("stagetrack_kpi_projection_lag_events") == 0
    assert registry.get_sample_value("stagetrack_kpi_projection_anomalies_total") == 0
    assert (registry.get_sample_value("stagetrack_kpi_last_projected_timestamp_seconds") or 0) > 0
    await agrees_with_the_store(engine)
    assert await summaries_agree(engine, MODEL, START) == 80 + 3 * 2 * 2 * 6  # the whole, and 3 dimensions x 2 scopes

    live = await checksums(engine)
    assert live["kpi_transitions"][0] > persons and live["kpi_revenue_shares"][0] > 0 and live["kpi_feedback"][0] > 0
    assert live["kpi_checkpoint"][0] == 1
    assert live["kpi_day_counts"][0] > 0 and live["kpi_flow_days"][0] > 0 and live["kpi_cohort_repeats"][0] > 0

    seen: list[tuple[int, int]] = []
    result = await rebuild(engine, MODEL, batch=7, progress=lambda done, total: seen.append((done, total)))
    assert (result.position, result.anomalies) == (head, 0) and seen[-1] == (head, head)
    assert await checksums(engine) == live

    async with engine.begin() as conn:  # from empty: a fresh projector over an empty schema's tables
        for table in ("kpi_revenue_shares", "kpi_revenue", "kpi_feedback", "kpi_transitions", "kpi_stays", *SUMMARIES):
            await conn.execute(text(f"DELETE FROM {table}"))
        await conn.execute(text("DELETE FROM kpi_leads"))
        await conn.execute(text("DELETE FROM kpi_checkpoint"))
    assert await Projector(engine, MODEL, CollectorRegistry(), batch=997).catch_up() == result.events
    assert await checksums(engine) == live

    bar = io.StringIO()
    assert await run_rebuild(settings, stream=bar) == 0  # what `stagetrack kpi rebuild` runs
    assert f"100%  {head:,}/{head:,} positions" in bar.getvalue()
    assert await checksums(engine) == live


async def agrees_with_the_store(engine: AsyncEngine) -> None:
    """Balance now = the engine's live leads per stage; every transition and booking projected once."""
    async with engine.connect() as conn:
        snapshots = dict(
            (
                await conn.execute(
                    text(
                        "SELECT state->>'stage', count(*) FROM lead_snapshots "
                        "WHERE state->>'merged_into' IS NULL GROUP BY 1"
                    )
                )
            ).all()
        )
        balance = dict(
            (await conn.execute(text("SELECT stage, count(*) FROM kpi_stays WHERE exited_at IS NULL GROUP BY 1"))).all()
        )
        assert balance == snapshots
        one_open = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT lead_id FROM kpi_stays WHERE exited_at IS NULL "
                "GROUP BY 1 HAVING count(*) > 1) x"
            )
        )
        assert one_open == 0
        stage_changes = await conn.scalar(text("SELECT count(*) FROM lead_events WHERE type = 'StageChanged'"))
        unmatched = await conn.scalar(
            text(
                "SELECT count(*) FROM lead_events e FULL JOIN kpi_transitions t USING (position) "
                "WHERE (e.type = 'StageChanged') IS DISTINCT FROM (t.position IS NOT NULL)"
            )
        )
        assert unmatched == 0 and stage_changes == await conn.scalar(text("SELECT count(*) FROM kpi_transitions"))
        merged = await conn.scalar(
            text(
                "SELECT count(*) FROM lead_snapshots s JOIN kpi_leads l ON l.lead_id = s.lead_id "
                "WHERE s.state->>'merged_into' IS DISTINCT FROM l.merged_into"
            )
        )
        assert merged == 0
        booked = (
            await conn.execute(
                text(
                    "SELECT count(*), coalesce(sum((data->>'amount')::numeric), 0) FROM lead_events "
                    "WHERE type = 'RevenueBooked'"
                )
            )
        ).one()
        ledger = (await conn.execute(text("SELECT count(*), coalesce(sum(amount), 0) FROM kpi_revenue"))).one()
        assert tuple(ledger) == tuple(booked) and booked[0] > 0
        shares_off = await conn.scalar(
            text(
                "SELECT count(*) FROM kpi_revenue r JOIN (SELECT position, sum(amount) AS s FROM kpi_revenue_shares "
                "GROUP BY 1) x USING (position) WHERE x.s <> r.amount"
            )
        )
        assert shares_off == 0
        negative = await conn.scalar(
            text("SELECT count(*) FROM kpi_stays WHERE exited_at < entered_at OR since > entered_at OR left_at < since")
        )
        assert negative == 0
    assert Decimal(str(ledger[1])) == Decimal(str(booked[1]))
    async with engine.connect() as conn:  # the workload did merge leads, both ways
        kinds = dict((await conn.execute(text("SELECT exit_kind, count(*) FROM kpi_stays GROUP BY 1"))).all())
    assert kinds["absorbed"] > 0 and kinds["merge"] > 0
