"""Expected /v1/kpi/bottleneck (docs/kpi.md "Bottleneck": three signals turned into leads held back, the
largest taken, weighted by the stage's won rate; ranked by expected wins held back, then held leads, then
model order) and the measured inputs of /v1/kpi/forecast, from the simulation's record."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.expected_flow import (
    ages,
    balances,
    cohort,
    forward,
    in_period,
    time_in_stage,
)
from tests.integration.kpi_api.generated.numbers import MICRO, estimate, money, p90_us, ratio, rounded, spread, value
from tests.integration.kpi_api.generated.simulation import Record

GONE = "(merged away)"


def flows(record: Record, stage: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(forward outflow, inflow) of the stage in [start, end)."""
    moves = [mv for mv in record.moves if in_period(mv.at, start, end)]
    out = sum(1 for mv in moves if mv.source == stage and forward(stage, mv.target))
    return out, sum(1 for mv in moves if mv.target == stage)


def bottleneck(record: Record, start: datetime, end: datetime, trailing: int, currency: str) -> dict[str, Any]:
    t_start = start - trailing * (end - start)
    new = [b for b in record.bookings if b.kind == "new" and b.currency == currency and in_period(b.at, t_start, end)]
    deal_sum = sum((b.amount for b in new), Decimal(0))
    average = Fraction(deal_sum) / len(new) if new else Fraction(0)
    at_from, at_to = balances(record, start), balances(record, end)
    won_index = m.SUCCESS_PATH.index(m.WON_STAGE)
    rows = []
    for order, stage in enumerate(m.UP_TO_OPPORTUNITY):
        fwd, inflow = flows(record, stage, start, end)
        t_fwd, t_inflow = flows(record, stage, t_start, start)
        drop = Fraction(0)
        if inflow and t_inflow:
            drop = max(Fraction(0), Fraction(t_fwd, t_inflow) - Fraction(fwd, inflow))
        shortfall = inflow * drop
        growth = max(0, at_to[stage] - at_from[stage])
        limit = p90_us(time_in_stage(record, stage, t_start, start))
        held_ages = ages(record, stage, end)
        aged = 0 if limit is None else sum(1 for a in held_ages if a // MICRO > limit)
        held = max(shortfall, Fraction(growth), Fraction(aged))
        won, persons = cohort(record, stage, t_start, start, won_index)
        wins = held * (Fraction(won, persons) if persons else 0)
        threshold = None if limit is None else float(Fraction(limit, 10**6))
        rows.append((-wins, -held, order, {
            "stage": stage, "division": m.DIVISION[stage], "held_leads": rounded(held),
            "expected_wins_held_back": rounded(wins), "revenue_held_back": estimate(wins * average, currency),
            "components": {
                "cvr": {"period": ratio(fwd, inflow), "trailing": ratio(t_fwd, t_inflow),
                        "drop": rounded(drop) if inflow else 0.0, "shortfall_leads": rounded(shortfall)},
                "balance": {"at_from": at_from[stage], "at_to": at_to[stage],
                            "growth": at_to[stage] - at_from[stage],
                            "growth_rate": value(at_to[stage] - at_from[stage], at_from[stage]),
                            "growth_leads": growth},
                "age": {**spread(held_ages), "threshold_seconds": threshold,
                        "aged_leads": aged},
                "won_rate": ratio(won, persons),
            },
        }))  # fmt: skip
    ranked = [row for *_, row in sorted(rows, key=lambda r: (r[0], r[1], r[2]))]
    return {
        "won_stage": m.WON_STAGE,
        "average_new_deal": {
            "count": len(new),
            "sum": money(deal_sum, currency),
            "average": estimate(average, currency),
        },
        "ranking": [{"rank": i, **row} for i, row in enumerate(ranked, start=1)],
    }


def exposure_days(record: Record, stage: str, start: datetime, end: datetime) -> Fraction:
    """Lead-days spent in the stage within [start, end): the integral of its balance."""
    total = 0
    for s in record.stays:
        if s.stage == stage:
            exit = end if s.exited_at is None else min(s.exited_at, end)
            total += max(0, (exit - max(s.entered_at, start)) // MICRO)
    return Fraction(total, 86_400 * 10**6)


def rates(record: Record, stage: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Moves out of the stage in W per lead-day in it: transitions (by their time) and merges (by the stay's
    end; an absorbed lead goes to "(merged away)")."""
    days = exposure_days(record, stage, start, end)
    out: Counter[str] = Counter(mv.target for mv in record.moves if mv.source == stage and in_period(mv.at, start, end))
    for s in record.stays:
        if s.stage == stage and s.exit_kind in ("merge", "absorbed") and in_period(s.exited_at or end, start, end):
            out[GONE if s.exit_kind == "absorbed" else s.next_stage or ""] += 1
    if days <= 0 or not out:
        return {"exit_rate_per_day": 0.0, "mean_days_in_stage": None, "destinations": {}}
    total = sum(out.values())
    return {
        "exit_rate_per_day": rounded(total / days),
        "mean_days_in_stage": rounded(days / total),
        "destinations": {target: rounded(Fraction(n, total)) for target, n in out.items()},
    }


def forecast_inputs(record: Record, start: datetime, end: datetime, now: datetime, currency: str) -> dict[str, Any]:
    """What the forecast measured and reports as such: balances at `to`, arrivals per day, exit rates, mean
    days in stage and destination shares, the actual inflow of the next period when it is over, wins and
    revenue booked in W. (The expected values are the Markov chain's: not recomputed here.)"""
    days = Fraction((end - start) // MICRO, 86_400 * 10**6)
    at_to = balances(record, end)
    first = [mv.target for mv in record.moves if mv.source is None and in_period(mv.at, start, end)]
    horizon_end = end + (end - start)
    over = horizon_end <= now
    booked = [b for b in record.bookings if b.currency == currency and in_period(b.at, start, end)]
    new = sum((b.amount for b in booked if b.kind == "new"), Decimal(0))
    recurring = sum((b.amount for b in booked if b.kind != "new"), Decimal(0))
    wins = sum(1 for mv in record.moves if mv.target == m.WON_STAGE and in_period(mv.at, start, end))
    customer_days = sum((exposure_days(record, s, start, end) for s in ("onboarding", "active")), Fraction(0))
    rows = [
        {
            "stage": s,
            "balance_at_start": at_to[s],
            "arrivals_per_day": rounded(Fraction(first.count(s)) / days),
            **rates(record, s, start, end),
            "actual_inflow": sum(1 for mv in record.moves if mv.target == s and in_period(mv.at, end, horizon_end))
            if over
            else None,
        }
        for s in m.STAGES
    ]
    measured = {
        "wins": wins,
        "new_revenue": money(new, currency),
        "new_revenue_per_win": estimate(Fraction(new) / wins if wins else Fraction(0), currency, places=6),
        "recurring_revenue": money(recurring, currency),
        "customer_days": rounded(customer_days),
        "recurring_revenue_per_customer_day": estimate(
            Fraction(recurring) / customer_days if customer_days else Fraction(0), currency, places=6
        ),
    }
    return {"stages": rows, "revenue": {"currency": currency, "won_stage": m.WON_STAGE, "measured": measured}}
