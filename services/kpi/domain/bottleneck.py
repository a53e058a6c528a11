"""Bottleneck: stages ranked by how much revenue they hold back (docs/kpi.md "Bottleneck").

For each success-path stage S before the won stage (the first customer stage), three estimates of the
number of leads S holds back in P, each from one signal the methodology names:
- CVR shortfall: inflow(S, P) x max(0, trailing period CVR - period CVR). The trailing CVR is the period CVR
  over the `trailing` periods of equal length before P (a ratio of sums, never an average of ratios).
- balance growth: max(0, balance(S, to) - balance(S, from)).
- balance age: leads in S at `to` whose age (to - since) exceeds the p90 time in stage measured over the
  trailing window (none when no stay ended there).
The three overlap (a lead that did not move on is both a shortfall and growth), so held leads = the largest.
A lead in S is worth won rate(S) x the average new deal, won rate(S) being the share of the persons who
entered S in the trailing window that have reached the won stage by now. Ranking: expected wins held back =
held leads x won rate(S) (revenue held back = that x the average new deal, a common factor), then held leads,
then model order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from services.kpi.domain.money import estimate, money
from services.kpi.domain.stats import Spread, ratio, ratio_value, rounded


@dataclass(frozen=True, slots=True)
class StageSignals:
    stage: str
    division: str
    inflow: int
    forward: int  # forward outflow in P
    trailing_inflow: int
    trailing_forward: int
    balance_from: int
    balance_to: int
    age: Spread  # of the balance at `to`
    threshold_us: int | None  # p90 time in stage over the trailing window
    aged: int  # leads in S at `to` older than the threshold
    won: int  # trailing cohort persons who reached the won stage
    cohort: int  # trailing cohort persons


@dataclass(frozen=True, slots=True)
class Scored:
    signals: StageSignals
    shortfall: Fraction
    growth: int
    held: Fraction
    wins: Fraction


def score(s: StageSignals) -> Scored:
    drop = Fraction(0)
    if s.trailing_inflow and s.inflow:
        drop = max(Fraction(0), Fraction(s.trailing_forward, s.trailing_inflow) - Fraction(s.forward, s.inflow))
    shortfall = s.inflow * drop
    growth = max(0, s.balance_to - s.balance_from)
    held = max(shortfall, Fraction(growth), Fraction(s.aged))
    won_rate = Fraction(s.won, s.cohort) if s.cohort else Fraction(0)
    return Scored(s, shortfall, growth, held, held * won_rate)


def ranking(
    signals: list[StageSignals], deal_sum: Decimal, deals: int, currency: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    average = Fraction(deal_sum) / deals if deals else Fraction(0)
    order = {s.stage: i for i, s in enumerate(signals)}
    scored = sorted((score(s) for s in signals), key=lambda x: (-x.wins, -x.held, order[x.signals.stage]))
    deal = {"count": deals, "sum": money(deal_sum, currency), "average": estimate(average, currency)}
    rows = []
    for rank, x in enumerate(scored, start=1):
        s = x.signals
        rows.append(
            {
                "rank": rank,
                "stage": s.stage,
                "division": s.division,
                "held_leads": rounded(x.held),
                "expected_wins_held_back": rounded(x.wins),
                "revenue_held_back": estimate(x.wins * average, currency),
                "components": {
                    "cvr": {
                        "period": ratio(s.forward, s.inflow),
                        "trailing": ratio(s.trailing_forward, s.trailing_inflow),
                        "drop": rounded(x.shortfall / s.inflow) if s.inflow else 0.0,
                        "shortfall_leads": rounded(x.shortfall),
                    },
                    "balance": {
                        "at_from": s.balance_from,
                        "at_to": s.balance_to,
                        "growth": s.balance_to - s.balance_from,
                        "growth_rate": ratio_value(s.balance_to - s.balance_from, s.balance_from),
                        "growth_leads": x.growth,
                    },
                    "age": {
                        **s.age.to_json(),
                        "threshold_seconds": None if s.threshold_us is None else float(Fraction(s.threshold_us, 10**6)),
                        "aged_leads": s.aged,
                    },
                    "won_rate": ratio(s.won, s.cohort),
                },
            }
        )
    return deal, rows
