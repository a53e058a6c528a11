"""The aggregates the KPI collector reads from the projection tables, in one consistent snapshot.

Definitions (PRODUCT.md "KPI definitions", the same as the JSON API's):
- balance now: a lead counts in `stage` when entered_at <= now and (exited_at is null or now < exited_at);
- overdue now: open stays entered by now whose sla_due_at <= now and whose SLA was not met;
- entries and transitions: every row of kpi_transitions (the flow ever; a re-entry counts again);
- time in stage: stays that ended by a transition, (left_at or exited_at) - since, bucketed by upper bound;
- revenue: every booking, its shares joined by position for the kind.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.slice_collector_queries import read_slices
from services.kpi.domain.kpi_metrics import TIME_IN_STAGE_BUCKETS, EndedStays, FeedbackGroup, KpiSnapshot
from services.kpi.domain.slice_metrics import SliceSnapshot

_BALANCE = text(
    """
    SELECT stage, sum(n) AS n FROM (
        SELECT stage, count(*) AS n FROM kpi_stays WHERE exited_at IS NULL AND entered_at <= :now GROUP BY stage
        UNION ALL
        SELECT stage, count(*) FROM kpi_stays WHERE exited_at > :now AND entered_at <= :now GROUP BY stage
    ) parts GROUP BY stage
    """
)
_OVERDUE = text(
    "SELECT stage, count(*) AS n FROM kpi_stays WHERE exited_at IS NULL AND entered_at <= :now "
    "AND sla_due_at <= :now AND sla_met_at IS NULL GROUP BY stage"
)
_ENTRIES = text("SELECT to_stage, count(*) AS n FROM kpi_transitions GROUP BY to_stage")
_TRANSITIONS = text("SELECT from_stage, to_stage, count(*) AS n FROM kpi_transitions GROUP BY from_stage, to_stage")
_REVENUE = text("SELECT kind, count(*) AS n, sum(amount) AS amount FROM kpi_revenue GROUP BY kind")
_SHARES = text(
    "SELECT r.kind, s.division, count(*) AS n, sum(s.amount) AS amount "
    "FROM kpi_revenue_shares s JOIN kpi_revenue r USING (position) GROUP BY r.kind, s.division"
)
_BUCKETS = ", ".join(
    f"count(*) FILTER (WHERE d <= {int(bound)}) AS b{i}" for i, bound in enumerate(TIME_IN_STAGE_BUCKETS)
)
_ENDED = text(
    f"SELECT stage, {_BUCKETS}, count(*) AS n, coalesce(sum(d), 0) AS seconds FROM ("
    "SELECT stage, EXTRACT(EPOCH FROM coalesce(left_at, exited_at) - since)::float8 AS d FROM kpi_stays "
    "WHERE exited_at IS NOT NULL AND exit_kind = 'transition') ended GROUP BY stage"
)
_FEEDBACK = text(
    "SELECT from_division, to_division, about, count(*) AS n, sum(rating) AS rating_sum, "
    "count(*) FILTER (WHERE met_expectations) AS met, count(*) FILTER (WHERE NOT met_expectations) AS not_met "
    "FROM kpi_feedback GROUP BY from_division, to_division, about"
)


async def read_snapshot(engine: AsyncEngine, now: datetime, model: StageModel) -> tuple[KpiSnapshot, SliceSnapshot]:
    """All aggregates in one REPEATABLE READ, read-only transaction: entries and balances agree, and so do the
    slices with the whole."""
    async with engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            return await _read(conn, now), await read_slices(conn, model, now)


async def _read(conn: AsyncConnection, now: datetime) -> KpiSnapshot:
    at = {"now": now}
    balance = [(r.stage, int(r.n)) for r in await conn.execute(_BALANCE, at)]
    overdue = [(r.stage, int(r.n)) for r in await conn.execute(_OVERDUE, at)]
    entries = [(r.to_stage, int(r.n)) for r in await conn.execute(_ENTRIES)]
    transitions = [(r.from_stage, r.to_stage, int(r.n)) for r in await conn.execute(_TRANSITIONS)]
    revenue = [(r.kind, int(r.n), Decimal(r.amount)) for r in await conn.execute(_REVENUE)]
    shares = [(r.kind, r.division, int(r.n), Decimal(r.amount)) for r in await conn.execute(_SHARES)]
    ended = [
        EndedStays(
            r.stage,
            tuple(int(r[1 + i]) for i in range(len(TIME_IN_STAGE_BUCKETS))),
            int(r.n),
            float(r.seconds),
        )
        for r in await conn.execute(_ENDED)
    ]
    feedback = [
        FeedbackGroup(r.from_division, r.to_division, r.about, int(r.n), int(r.rating_sum), int(r.met), int(r.not_met))
        for r in await conn.execute(_FEEDBACK)
    ]
    return KpiSnapshot(balance, overdue, entries, transitions, revenue, shares, ended, feedback)
