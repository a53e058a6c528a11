"""/v1/kpi/bottleneck and /v1/kpi/forecast: the measurements behind them, in one snapshot each."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_balance, queries_flow, queries_money, queries_stays
from services.kpi.adapters.scope import Scope
from services.kpi.app.slices import keys, sliced, whole
from services.kpi.domain.bottleneck import StageSignals, ranking
from services.kpi.domain.customer_success import customer_stages
from services.kpi.domain.forecast import Measured, forecast
from services.kpi.domain.funnel import cohort_counts, forward_outflow
from services.kpi.domain.money import exact_sum
from services.kpi.domain.periods import Period
from services.kpi.domain.slicing import Body, Slice, Slicing
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


Answer = tuple[Body, dict[Slice, Body] | None]


async def bottleneck(
    engine: AsyncEngine, model: StageModel, period: Period, trailing_periods: int, currency: str, slicing: Slicing
) -> Answer:
    won = won_stage(model)
    path = list(model.success_path)
    stages = path[: path.index(won)] if won else path[:-1]
    trailing = period.trailing(trailing_periods)
    won_index = len(path) if won is None else path.index(won)

    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        inflow = await queries_flow.inflow(conn, stages, period, scope)
        outflow = await queries_flow.outflow(conn, stages, period, scope)
        t_inflow = await queries_flow.inflow(conn, stages, trailing, scope)
        t_outflow = await queries_flow.outflow(conn, stages, trailing, scope)
        at_from = await queries_balance.balances_at(conn, stages, period.start, scope)
        at_to = await queries_balance.balances_at(conn, stages, period.end, scope)
        ages = await queries_stays.ages(conn, stages, period.end, scope)
        tis = await queries_stays.time_in_stage(conn, stages, trailing, scope)
        limits = {key: {s: x.p90_us for s, x in by.items()} for key, by in tis.items()}
        cutoffs = {(key, s): us for key, by in limits.items() for s, us in by.items() if us is not None}
        aged = await queries_stays.aged(conn, cutoffs, period.end, scope)
        cohorts = await queries_flow.cohort_furthest(conn, stages, trailing, scope)
        by_kind = await queries_money.revenue_by_kind(conn, Period(trailing.start, period.end), scope)
        found = keys(inflow, outflow, t_inflow, t_outflow, at_from, at_to, ages, tis, cohorts, by_kind)
        answers = {}
        for key in found | whole(scope):
            signals = []
            for s in stages:
                won_count, cohort = cohort_counts(cohorts.get(key, {}).get(s, {}), won_index)
                signals.append(
                    StageSignals(
                        stage=s,
                        division=model.stages[s].division,
                        inflow=inflow.get(key, {}).get(s, 0),
                        forward=forward_outflow(model, s, outflow.get(key, {}).get(s, {})),
                        trailing_inflow=t_inflow.get(key, {}).get(s, 0),
                        trailing_forward=forward_outflow(model, s, t_outflow.get(key, {}).get(s, {})),
                        balance_from=at_from.get(key, {}).get(s, 0),
                        balance_to=at_to.get(key, {}).get(s, 0),
                        age=ages.get(key, {}).get(s, Spread(0, None, None)),
                        threshold_us=limits.get(key, {}).get(s),
                        aged=aged.get(key, {}).get(s, 0),
                        won=won_count,
                        cohort=cohort,
                    )
                )
            deals, new, _ = _new_and_recurring(by_kind.get(key, {}), currency)
            deal, rows = ranking(signals, new, deals, currency)
            answers[key] = {"won_stage": won, "average_new_deal": deal, "ranking": rows}
        return answers

    return await sliced(engine, slicing, build)


async def outlook(
    engine: AsyncEngine, model: StageModel, period: Period, now: datetime, currency: str, slicing: Slicing
) -> Answer:
    """The forecast of the period after P from the balances at `to` and the rates measured in P."""
    names = list(model.stages)
    won = won_stage(model)
    horizon = period.shifted(1)

    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        inflow = await queries_flow.inflow(conn, names, period, scope)
        by_kind = await queries_money.revenue_by_kind(conn, period, scope)
        exposure = await queries_balance.exposure_seconds(conn, names, period, scope)
        moves = await queries_flow.outflow(conn, names, period, scope)
        merges = await queries_stays.merge_exits(conn, names, period, scope)
        arrivals = await queries_flow.first_entries(conn, period, scope)
        balance = await queries_balance.balances_at(conn, names, period.end, scope)
        actual = await queries_flow.inflow(conn, names, horizon, scope) if horizon.end <= now else None
        answers = {}
        for key in keys(inflow, by_kind, exposure, moves, merges, arrivals, balance) | whole(scope):
            _, new, recurring = _new_and_recurring(by_kind.get(key, {}), currency)
            measured = Measured(
                window_days=Fraction(period.length // timedelta(microseconds=1), 86_400 * 10**6),
                exposure_seconds=exposure.get(key) or dict.fromkeys(names, Fraction(0)),
                moves=moves.get(key, {}),
                merges=merges.get(key, {}),
                arrivals=arrivals.get(key, {}),
                balance=balance.get(key) or dict.fromkeys(names, 0),
                won_stage=won,
                wins=inflow.get(key, {}).get(won, 0) if won else 0,
                new_revenue=new,
                recurring_revenue=recurring,
                customer_stages=customer_stages(model),
            )
            result = forecast(names, measured, currency)
            for row in result["stages"]:
                row["actual_inflow"] = None if actual is None else actual.get(key, {}).get(row["stage"], 0)
            answers[key] = result
        return answers

    return await sliced(engine, slicing, build)
