"""The forecast's expected values (docs/kpi.md "Forecast") recomputed another way: the chain's rates from the
record, then m' = mQ + a integrated step by step (classic Runge-Kutta, steps of at most 1/100 of the fastest
mean stay) instead of the service's Taylor series and doublings. Floating point on both sides, so these are
compared within `TOLERANCE` (relative); the measured inputs are compared exactly (expected_outlook.py)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.expected_flow import balances, in_period
from tests.integration.kpi_api.generated.expected_outlook import GONE, exposure_days
from tests.integration.kpi_api.generated.numbers import MICRO
from tests.integration.kpi_api.generated.simulation import Record

TOLERANCE = 1e-6
STATES = [*m.STAGES, GONE]


def _rates(record: Record, start: datetime, end: datetime) -> tuple[list[list[float]], list[list[float]]]:
    """(all moves, transitions only) per lead-day, [from][to]; a stage never occupied in W keeps what enters."""
    n = len(STATES)
    q, counted = [[0.0] * n for _ in range(n)], [[0.0] * n for _ in range(n)]
    for i, stage in enumerate(m.STAGES):
        days = exposure_days(record, stage, start, end)
        if days <= 0:
            continue
        moves = Counter(mv.target for mv in record.moves if mv.source == stage and in_period(mv.at, start, end))
        merges = Counter(
            GONE if s.exit_kind == "absorbed" else str(s.next_stage)
            for s in record.stays
            if s.stage == stage and s.exit_kind in ("merge", "absorbed") and in_period(s.exited_at or end, start, end)
        )
        for target, k in moves.items():
            counted[i][STATES.index(target)] = float(Fraction(k) / days)
        for target, k in (moves + merges).items():
            q[i][STATES.index(target)] = float(Fraction(k) / days)
        q[i][i] = -sum(q[i])
    return q, counted


def _integrate(
    q: list[list[float]], start: list[float], arrivals: list[float], horizon: float
) -> tuple[list[float], list[float]]:
    """(m(H), integral of m over [0, H]) for m' = mQ + a, m(0) = start."""
    n = len(start)
    fastest = max([-q[i][i] for i in range(n)] + [1.0])
    steps = math.ceil(horizon * fastest * 100)
    h = horizon / steps

    def slope(state: list[float]) -> list[float]:  # (m, L) -> (mQ + a, m)
        occupancy = state[:n]
        return [math.fsum(occupancy[i] * q[i][j] for i in range(n)) + arrivals[j] for j in range(n)] + occupancy

    state = [*start, *([0.0] * n)]
    for _ in range(steps):
        k1 = slope(state)
        k2 = slope([x + h / 2 * k for x, k in zip(state, k1, strict=True)])
        k3 = slope([x + h / 2 * k for x, k in zip(state, k2, strict=True)])
        k4 = slope([x + h * k for x, k in zip(state, k3, strict=True)])
        state = [x + h / 6 * (a + 2 * b + 2 * c + d) for x, a, b, c, d in zip(state, k1, k2, k3, k4, strict=True)]
    return state[:n], state[n:]


def forecast_estimates(record: Record, start: datetime, end: datetime, currency: str) -> dict[str, Any]:
    days = Fraction((end - start) // MICRO, 86_400 * 10**6)
    horizon = float(days)
    q, counted = _rates(record, start, end)
    firsts = Counter(mv.target for mv in record.moves if mv.source is None and in_period(mv.at, start, end))
    arrivals = [float(Fraction(firsts[s]) / days) for s in STATES]
    at_to = balances(record, end)
    begin = [float(at_to[s]) for s in m.STAGES] + [0.0]
    booked = [b for b in record.bookings if b.currency == currency and in_period(b.at, start, end)]
    new = sum((b.amount for b in booked if b.kind == "new"), Decimal(0))
    recurring = sum((b.amount for b in booked if b.kind != "new"), Decimal(0))
    wins = sum(1 for mv in record.moves if mv.target == m.WON_STAGE and in_period(mv.at, start, end))
    customer_days = sum((exposure_days(record, s, start, end) for s in ("onboarding", "active")), Fraction(0))
    per_win = float(Fraction(new) / wins) if wins else 0.0
    per_day = float(Fraction(recurring) / customer_days) if customer_days else 0.0
    out: dict[str, Any] = {"stages": [{"stage": s} for s in m.STAGES], "revenue": {}}
    for key, with_arrivals in (("expected", True), ("expected_from_balances", False)):
        feed = arrivals if with_arrivals else [0.0] * len(STATES)
        final, lead_days = _integrate(q, begin, feed, horizon)
        inflow = [
            math.fsum(lead_days[i] * counted[i][j] for i in range(len(STATES))) + feed[j] * horizon
            for j in range(len(STATES))
        ]
        for row, j in zip(out["stages"], range(len(m.STAGES)), strict=True):
            row["expected_inflow" if with_arrivals else "expected_inflow_from_balances"] = inflow[j]
            if with_arrivals:
                row["expected_balance_at_end"] = final[j]
        won = inflow[STATES.index(m.WON_STAGE)]
        in_customers = lead_days[STATES.index("onboarding")] + lead_days[STATES.index("active")]
        out["revenue"][key] = {
            "expected_wins": won, "expected_customer_days": in_customers,
            "new": per_win * won, "recurring": per_day * in_customers,
            "total": per_win * won + per_day * in_customers,
        }  # fmt: skip
    return out


def close(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Like compare.differences, but numbers (and JPY strings) within TOLERANCE relative to the expected, plus
    what the answer's rounding may take away."""
    if isinstance(expected, dict):
        found: list[str] = []
        for key, value in expected.items():
            found += close(value, actual.get(key) if isinstance(actual, dict) else None, f"{path}.{key}")
        return found
    if isinstance(expected, list):
        found = [] if isinstance(actual, list) and len(actual) == len(expected) else [f"{path}: {actual!r}"]
        for i, (e, a) in enumerate(zip(expected, actual or [], strict=False)):
            found += close(e, a, f"{path}[{i}]")
        return found
    if isinstance(expected, str):
        return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]
    try:
        got = float(Decimal(str(actual)))
    except ArithmeticError:
        return [f"{path}: expected about {expected!r}, got {actual!r}"]
    rounding = 0.5 if isinstance(actual, str) else 5e-7  # yen amounts are whole; other numbers have 6 places
    ok = abs(got - expected) <= TOLERANCE * max(1.0, abs(expected)) + rounding
    return [] if ok else [f"{path}: expected about {expected!r}, got {actual!r}"]
