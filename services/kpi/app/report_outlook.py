"""/v1/kpi/bottleneck and /v1/kpi/forecast: the measurements behind them, in one snapshot each."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_balance, queries_flow, queries_money, queries_stays
from services.kpi.adapters.snapshot import snapshot
from services.kpi.domain.bottleneck import StageSignals, ranking
from services.kpi.domain.customer_success import customer_stages
from services.kpi.domain.forecast import Measured, forecast
from services.kpi.domain.funnel import cohort_counts, forward_outflow
from services.kpi.domain.money import exact_sum
from services.kpi.domain.periods import Period
from services.kpi.domain.stats import Spread

NEW = "new"


def won_stage(model: StageModel) -> str | None:
    """Where a lead is won: the first success-path stage of phase `customer` (THE MODEL: onboarding)."""
    return next((s for s in model.success_path if model.stages[s].phase == "customer"), None)


def _new_and_recurring(
    by_kind: dict[tuple[str, str], tuple[int, Decimal]], currency: str
) -> tuple[int, Decimal, Decimal]:
    deals, new, recurring = 0, [], []
    for (kind, booked_in), (n, amount) in by_kind.items():
        if booked_in != currency:
            continue
        if kind == NEW:
            deals += n
            new.append(amount)
        else:
            recurring.append(amount)
    return deals, exact_sum(new), exact_sum(recurring)


async def bottleneck(
    engine: AsyncEngine, model: StageModel, period: Period, trailing_periods: int, currency: str
) -> dict[str, Any]:
    won = won_stage(model)
    path = list(model.success_path)
    stages = path[: path.index(won)] if won else path[:-1]
    trailing = period.trailing(trailing_periods)
    async with snapshot(engine) as conn:
        inflow = await queries_flow.inflow(conn, stages, period)
        outflow = await queries_flow.outflow(conn, stages, period)
        t_inflow = await queries_flow.inflow(conn, stages, trailing)
        t_outflow = await queries_flow.outflow(conn, stages, trailing)
        at_from = await queries_balance.balances_at(conn, stages, period.start)
        at_to = await queries_balance.balances_at(conn, stages, period.end)
        ages = await queries_stays.ages(conn, stages, period.end)
        limits = {s: x.p90_us for s, x in (await queries_stays.time_in_stage(conn, stages, trailing)).items()}
        aged = await queries_stays.aged(conn, {s: v for s, v in limits.items() if v is not None}, period.end)
        cohorts = await queries_flow.cohort_furthest(conn, stages, trailing)
        by_kind = await queries_money.revenue_by_kind(conn, Period(trailing.start, period.end))
    won_index = len(path) if won is None else path.index(won)
    signals = []
    for s in stages:
        won_count, cohort = cohort_counts(cohorts.get(s, {}), won_index)
        signals.append(
            StageSignals(
                stage=s,
                division=model.stages[s].division,
                inflow=inflow.get(s, 0),
                forward=forward_outflow(model, s, outflow.get(s, {})),
                trailing_inflow=t_inflow.get(s, 0),
                trailing_forward=forward_outflow(model, s, t_outflow.get(s, {})),
                balance_from=at_from[s],
                balance_to=at_to[s],
                age=ages.get(s, Spread(0, None, None)),
                threshold_us=limits.get(s),
                aged=aged.get(s, 0),
                won=won_count,
                cohort=cohort,
            )
        )
    deals, new, _ = _new_and_recurring(by_kind, currency)
    deal, rows = ranking(signals, new, deals, currency)
    return {"won_stage": won, "average_new_deal": deal, "ranking": rows}


async def outlook(
    engine: AsyncEngine, model: StageModel, period: Period, now: datetime, currency: str
) -> dict[str, Any]:
    """The forecast of the period after P from the balances at `to` and the rates measured in P."""
    names = list(model.stages)
    won = won_stage(model)
    horizon = period.shifted(1)
    async with snapshot(engine) as conn:
        inflow = await queries_flow.inflow(conn, names, period)
        _, new, recurring = _new_and_recurring(await queries_money.revenue_by_kind(conn, period), currency)
        measured = Measured(
            window_days=Fraction(period.length // timedelta(microseconds=1), 86_400 * 10**6),
            exposure_seconds=await queries_balance.exposure_seconds(conn, names, period),
            moves=await queries_flow.outflow(conn, names, period),
            merges=await queries_stays.merge_exits(conn, names, period),
            arrivals=await queries_flow.first_entries(conn, period),
            balance=await queries_balance.balances_at(conn, names, period.end),
            won_stage=won,
            wins=inflow.get(won, 0) if won else 0,
            new_revenue=new,
            recurring_revenue=recurring,
            customer_stages=customer_stages(model),
        )
        actual = await queries_flow.inflow(conn, names, horizon) if horizon.end <= now else None
    result = forecast(names, measured, currency)
    for row in result["stages"]:
        row["actual_inflow"] = None if actual is None else actual.get(row["stage"], 0)
    return {"horizon": horizon, **result}
