"""/v1/kpi/stages and /v1/kpi/stages/{stage}/balance: the queries of one answer, in one snapshot.

The summaries answer a scope over one bounded dimension at most (unsliced, or `by` or filters on that one
dimension); any other scope reads the projection tables, whose cost grows with the period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_balance, queries_flow, queries_stays, queries_summaries
from services.kpi.adapters import queries_summaries_stays as summary_stays
from services.kpi.adapters.scope import Scope
from services.kpi.adapters.snapshot import force_custom_plans
from services.kpi.adapters.summary_scope import SummaryScope, summaries_kept
from services.kpi.app.slices import keys, sliced, whole
from services.kpi.domain.funnel import FunnelCounts, stage_rows
from services.kpi.domain.periods import Period, day_ends
from services.kpi.domain.slicing import Body, Slice, Slicing


async def stages_report(
    engine: AsyncEngine, model: StageModel, period: Period, now: datetime, slicing: Slicing
) -> tuple[Body, dict[Slice, Body] | None]:
    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        counts = await funnel_counts(conn, model, period, now, scope)
        return {key: {"stages": stage_rows(model, c)} for key, c in counts.items()}

    return await sliced(engine, slicing, build)


async def funnel_counts(
    conn: AsyncConnection, model: StageModel, period: Period, now: datetime, scope: Scope
) -> dict[Slice, FunnelCounts]:
    dimensions = ({scope.by} if scope.by else set()) | {d for d, _ in scope.filters}
    bounded = {d.name for d in model.dimensions if d.bounded}
    one = next(iter(dimensions)) if len(dimensions) == 1 else None
    if (not dimensions or one in bounded) and await summaries_kept(conn, one):
        await force_custom_plans(conn)
        return await summary_counts(conn, model, period, now, SummaryScope(scope))
    return await projection_counts(conn, model, period, now, scope)


def _assemble(scope: Scope, *parts: dict[Slice, Any]) -> dict[Slice, FunnelCounts]:
    inflow, outflow, balance, reached, cohort, time_in_stage, age, sla = parts
    found = keys(*parts) | whole(scope)
    return {
        key: FunnelCounts(
            inflow=inflow.get(key, {}),
            outflow=outflow.get(key, {}),
            balance=balance.get(key, {}),
            reached=reached.get(key, {}),
            cohort=cohort.get(key, {}),
            time_in_stage=time_in_stage.get(key, {}),
            age=age.get(key, {}),
            sla=sla.get(key, {}),
        )
        for key in found
    }


async def summary_counts(
    conn: AsyncConnection, model: StageModel, period: Period, now: datetime, ss: SummaryScope
) -> dict[Slice, FunnelCounts]:
    """The same numbers as `projection_counts`, from the summaries: their cost does not grow with the period."""
    names = list(model.stages)
    inflow, outflow = await queries_summaries.flows(conn, names, period, ss)
    return _assemble(
        ss.scope,
        inflow,
        outflow,
        await queries_summaries.balances_at(conn, names, period.end, ss),
        await queries_summaries.reached_by_furthest(conn, ss),
        await queries_summaries.cohort_furthest(conn, list(model.success_path[:-1]), period, ss),
        await summary_stays.time_in_stage(conn, names, period, ss),
        await summary_stays.ages(conn, names, now, ss),
        await summary_stays.sla_counts(conn, list(model.slas), period, now, ss),
    )


async def projection_counts(
    conn: AsyncConnection, model: StageModel, period: Period, now: datetime, scope: Scope
) -> dict[Slice, FunnelCounts]:
    """Straight from the projection tables (tables without summaries, e.g. built by hand in tests)."""
    names = list(model.stages)
    return _assemble(
        scope,
        await queries_flow.inflow(conn, names, period, scope),
        await queries_flow.outflow(conn, names, period, scope),
        await queries_balance.balances_at(conn, names, period.end, scope),
        await queries_flow.reached_by_furthest(conn, scope),
        await queries_flow.cohort_furthest(conn, list(model.success_path[:-1]), period, scope),
        await queries_stays.time_in_stage(conn, names, period, scope),
        await queries_stays.ages(conn, names, now, scope),
        await queries_stays.sla_counts(conn, list(model.slas), period, now, scope),
    )


async def balance_report(
    engine: AsyncEngine, stage: str, period: Period, zone: ZoneInfo, slicing: Slicing
) -> tuple[Body, dict[Slice, Body] | None]:
    days = day_ends(period, zone)

    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        found = await queries_balance.balance_series(conn, stage, period.start, [at for _, at in days], scope)
        if not scope.sliced:
            found.setdefault(None, [0] * len(days))
        return {key: _series(series, days, zone) for key, series in found.items()}

    return await sliced(engine, slicing, build)


def _series(series: list[int], days: list[tuple[Any, datetime]], zone: ZoneInfo) -> Body:
    return {
        "balance": series[-1],
        "series": [
            {"date": day.isoformat(), "at": at.astimezone(zone).isoformat(), "balance": n}
            for (day, at), n in zip(days, series, strict=True)
        ],
    }
