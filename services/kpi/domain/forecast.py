"""Next period's inflow per stage and expected revenue (docs/kpi.md "Forecast").

Measured over the window W = [from, to): per stage S the lead-days spent in S (exposure), the moves out of
S (transitions, counted as inflow; merges, not counted) and the first stages of new leads (arrivals). Rates
per day are moves / exposure (the maximum-likelihood rates of a continuous-time Markov chain: the
destination shares are the measured CVRs to every destination, 1 / total rate the mean time in stage).
Starting from the balances at `to`, the chain is run over the next period [to, to + |W|) (markov.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from services.kpi.domain.markov import Projection, project, propagators
from services.kpi.domain.money import estimate, money
from services.kpi.domain.stats import rounded

GONE = "(merged away)"
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class Measured:
    window_days: Fraction
    exposure_seconds: Mapping[str, Fraction]
    moves: Mapping[str, Mapping[str, int]]  # transitions S -> T in W (counted as inflow)
    merges: Mapping[str, Mapping[str | None, int]]  # merge exits in W: S -> T, None = absorbed (gone)
    arrivals: Mapping[str, int]  # first stages of new leads in W
    balance: Mapping[str, int]  # at `to`, the start of the forecast
    won_stage: str | None
    wins: int  # transitions into the won stage in W
    new_revenue: Decimal  # kind `new` booked in W
    recurring_revenue: Decimal  # every other kind booked in W
    customer_stages: Sequence[str]


def forecast(stages: Sequence[str], m: Measured, currency: str) -> dict[str, Any]:
    states = [*stages, GONE]
    index = {name: i for i, name in enumerate(states)}
    n = len(states)
    days = {s: m.exposure_seconds.get(s, Fraction(0)) / SECONDS_PER_DAY for s in stages}
    counted = [[0.0] * n for _ in range(n)]
    q = [[0.0] * n for _ in range(n)]
    left = [[0] * n for _ in range(n)]  # the moves themselves: the measured shares and rates are exact ratios
    for s in stages:
        if days[s] <= 0:
            continue  # never occupied in W: no measured rate, the stage keeps what it gets
        for t, k in m.moves.get(s, {}).items():
            if t in index:
                counted[index[s]][index[t]] += float(k / days[s])
                left[index[s]][index[t]] += k
        for target, k in m.merges.get(s, {}).items():
            t = GONE if target is None else target
            if t in index and t != s:
                q[index[s]][index[t]] += float(k / days[s])
                left[index[s]][index[t]] += k
        for j in range(n):
            q[index[s]][j] += counted[index[s]][j]
        q[index[s]][index[s]] = -sum(q[index[s]][j] for j in range(n) if j != index[s])
    horizon = float(m.window_days)
    arrivals = [float(m.arrivals.get(s, 0) / m.window_days) for s in states]
    start = [float(m.balance.get(s, 0)) for s in stages] + [0.0]
    p = propagators(q, horizon)
    total, from_balances = project(p, start, arrivals), project(p, start, [0.0] * n)

    def inflow(run: Projection, with_arrivals: bool) -> list[float]:
        moved = [sum(run.occupancy[i] * counted[i][j] for i in range(n)) for j in range(n)]
        return [moved[j] + (arrivals[j] * horizon if with_arrivals else 0.0) for j in range(n)]

    expected, expected_from_balances = inflow(total, True), inflow(from_balances, False)
    rows = []
    for s in stages:
        i = index[s]
        total_left = sum(left[i][j] for j in range(n) if j != i)
        rate = Fraction(total_left) / days[s] if total_left else Fraction(0)
        rows.append(
            {
                "stage": s,
                "balance_at_start": m.balance.get(s, 0),
                "arrivals_per_day": rounded(arrivals[i]),
                "exit_rate_per_day": rounded(rate),
                "mean_days_in_stage": rounded(1 / rate) if rate > 0 else None,
                "destinations": {
                    states[j]: rounded(Fraction(left[i][j], total_left)) for j in range(n) if j != i and left[i][j] > 0
                },
                "expected_inflow": rounded(expected[i]),
                "expected_inflow_from_balances": rounded(expected_from_balances[i]),
                "expected_balance_at_end": rounded(total.end[i]),
            }
        )
    return {
        "stages": rows,
        "revenue": _revenue(m, index, (expected, total), (expected_from_balances, from_balances), currency),
    }


def _revenue(
    m: Measured,
    index: Mapping[str, int],
    total: tuple[list[float], Projection],
    balances_only: tuple[list[float], Projection],
    currency: str,
) -> dict[str, Any]:
    per_win = Fraction(m.new_revenue) / m.wins if m.wins else Fraction(0)
    customer_days = sum((m.exposure_seconds.get(s, Fraction(0)) for s in m.customer_stages), Fraction(0))
    per_day = Fraction(m.recurring_revenue) * SECONDS_PER_DAY / customer_days if customer_days else Fraction(0)

    def amounts(run: tuple[list[float], Projection]) -> dict[str, Any]:
        inflow, projection = run
        won = index.get(m.won_stage) if m.won_stage is not None else None
        wins = inflow[won] if won is not None else 0.0
        days = sum(projection.occupancy[index[s]] for s in m.customer_stages if s in index)
        new, recurring = per_win * Fraction(wins), per_day * Fraction(days)
        return {
            "expected_wins": rounded(wins),
            "expected_customer_days": rounded(days),
            "new": estimate(new, currency),
            "recurring": estimate(recurring, currency),
            "total": estimate(new + recurring, currency),
        }

    return {
        "currency": currency,
        "won_stage": m.won_stage,
        "measured": {
            "wins": m.wins,
            "new_revenue": money(m.new_revenue, currency),
            "new_revenue_per_win": estimate(per_win, currency, places=6),
            "recurring_revenue": money(m.recurring_revenue, currency),
            "customer_days": rounded(customer_days / SECONDS_PER_DAY),
            "recurring_revenue_per_customer_day": estimate(per_day, currency, places=6),
        },
        "expected": amounts(total),
        "expected_from_balances": amounts(balances_only),
    }
