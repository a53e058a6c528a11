"""/v1/kpi/stages and /v1/kpi/stages/{stage}/balance: the queries of one answer, in one snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_balance, queries_flow, queries_stays, queries_summaries
from services.kpi.adapters import queries_summaries_stays as summary_stays
from services.kpi.adapters.snapshot import force_custom_plans, snapshot
from services.kpi.domain.funnel import FunnelCounts, stage_rows
from services.kpi.domain.periods import Period, day_ends


async def stages_report(engine: AsyncEngine, model: StageModel, period: Period, now: datetime) -> list[dict[str, Any]]:
    async with snapshot(engine) as conn:
        if await queries_summaries.summaries_kept(conn):
            await force_custom_plans(conn)
            return stage_rows(model, await summary_counts(conn, model, period, now))
        return stage_rows(model, await projection_counts(conn, model, period, now))


async def summary_counts(conn: AsyncConnection, model: StageModel, period: Period, now: datetime) -> FunnelCounts:
    """The same numbers as `projection_counts`, from the summaries: their cost does not grow with the period."""
    names = list(model.stages)
    inflow, outflow = await queries_summaries.flows(conn, names, period)
    return FunnelCounts(
        inflow=inflow,
        outflow=outflow,
        balance=await queries_summaries.balances_at(conn, names, period.end),
        reached=await queries_summaries.reached_by_furthest(conn),
        cohort=await queries_summaries.cohort_furthest(conn, list(model.success_path[:-1]), period),
        time_in_stage=await summary_stays.time_in_stage(conn, names, period),
        age=await summary_stays.ages(conn, names, now),
        sla=await summary_stays.sla_counts(conn, list(model.slas), period, now),
    )


async def projection_counts(conn: AsyncConnection, model: StageModel, period: Period, now: datetime) -> FunnelCounts:
    """Straight from the projection tables (tables without summaries, e.g. built by hand in tests)."""
    names = list(model.stages)
    return FunnelCounts(
        inflow=await queries_flow.inflow(conn, names, period),
        outflow=await queries_flow.outflow(conn, names, period),
        balance=await queries_balance.balances_at(conn, names, period.end),
        reached=await queries_flow.reached_by_furthest(conn),
        cohort=await queries_flow.cohort_furthest(conn, list(model.success_path[:-1]), period),
        time_in_stage=await queries_stays.time_in_stage(conn, names, period),
        age=await queries_stays.ages(conn, names, now),
        sla=await queries_stays.sla_counts(conn, list(model.slas), period, now),
    )


async def balance_report(engine: AsyncEngine, stage: str, period: Period, zone: ZoneInfo) -> dict[str, Any]:
    days = day_ends(period, zone)
    async with snapshot(engine) as conn:
        series = await queries_balance.balance_series(conn, stage, period.start, [at for _, at in days])
    return {
        "balance": series[-1],
        "series": [
            {"date": day.isoformat(), "at": at.astimezone(zone).isoformat(), "balance": n}
            for (day, at), n in zip(days, series, strict=True)
        ],
    }
