"""/v1/kpi/stages and /v1/kpi/stages/{stage}/balance: the queries of one answer, in one snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from services.kpi.adapters import queries_balance, queries_flow, queries_stays
from services.kpi.adapters.snapshot import snapshot
from services.kpi.domain.funnel import FunnelCounts, stage_rows
from services.kpi.domain.periods import Period, day_ends
from services.stage_engine.domain.model_types import StageModel


async def stages_report(engine: AsyncEngine, model: StageModel, period: Period, now: datetime) -> list[dict[str, Any]]:
    names = list(model.stages)
    async with snapshot(engine) as conn:
        counts = FunnelCounts(
            inflow=await queries_flow.inflow(conn, names, period),
            outflow=await queries_flow.outflow(conn, names, period),
            balance=await queries_balance.balances_at(conn, names, period.end),
            reached=await queries_flow.reached_by_furthest(conn),
            cohort=await queries_flow.cohort_furthest(conn, list(model.success_path[:-1]), period),
            time_in_stage=await queries_stays.time_in_stage(conn, names, period),
            age=await queries_stays.ages(conn, names, now),
            sla=await queries_stays.sla_counts(conn, list(model.slas), period, now),
        )
    return stage_rows(model, counts)


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
