"""The chain's propagators against closed forms, and the forecast built on them."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from services.kpi.domain.forecast import GONE, Measured, forecast
from services.kpi.domain.markov import project, propagators


@pytest.mark.parametrize("rate", [0.05, 0.7, 40.0, 3000.0])  # the large ones take many doublings
def test_one_stage_draining_and_filling(rate: float) -> None:
    horizon, start, arrivals = 30.0, 100.0, 12.0
    q = [[-rate, rate], [0.0, 0.0]]
    p = propagators(q, horizon)
    decay = math.exp(-rate * horizon)
    drained = project(p, [start, 0.0], [0.0, 0.0])
    assert drained.end[0] == pytest.approx(start * decay, rel=1e-9, abs=1e-9)
    assert drained.occupancy[0] == pytest.approx(start * (1 - decay) / rate, rel=1e-9)
    filled = project(p, [0.0, 0.0], [arrivals, 0.0])
    assert filled.end[0] == pytest.approx(arrivals / rate * (1 - decay), rel=1e-9)
    assert filled.occupancy[0] == pytest.approx(arrivals / rate * (horizon - (1 - decay) / rate), rel=1e-9)
    assert filled.end[0] + filled.end[1] == pytest.approx(arrivals * horizon, rel=1e-9)  # nothing is lost


def test_two_stages_in_a_row() -> None:
    a, b, horizon = 0.5, 0.2, 10.0
    q = [[-a, a, 0.0], [0.0, -b, b], [0.0, 0.0, 0.0]]
    run = project(propagators(q, horizon), [1.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    second = a / (a - b) * (math.exp(-b * horizon) - math.exp(-a * horizon))
    assert run.end[1] == pytest.approx(second, rel=1e-9)
    assert run.end[2] == pytest.approx(1 - math.exp(-a * horizon) - second, rel=1e-9)


def measured(**overrides: object) -> Measured:
    base = dict(
        window_days=Fraction(30),
        # lead: 300 lead-days, 60 moved on to mql (0.2 / day), 30 merged away (0.1 / day)
        exposure_seconds={"lead": Fraction(300 * 86400), "mql": Fraction(0), "onboarding": Fraction(100 * 86400)},
        moves={"lead": {"mql": 60}},
        merges={"lead": {None: 30}},
        arrivals={"lead": 150},  # 5 a day
        balance={"lead": 20, "mql": 4},
        won_stage="mql",
        wins=10,
        new_revenue=Decimal(1000),
        recurring_revenue=Decimal(250),
        customer_stages=["onboarding"],
    )
    base.update(overrides)
    return Measured(**base)  # type: ignore[arg-type]


def test_forecast_rates_inflow_and_revenue() -> None:
    result = forecast(["lead", "mql", "onboarding"], measured(), "JPY")
    lead, mql, onboarding = result["stages"]
    assert lead["exit_rate_per_day"] == pytest.approx(0.3) and lead["mean_days_in_stage"] == pytest.approx(3.333333)
    assert lead["destinations"] == {"mql": pytest.approx(0.666667), GONE: pytest.approx(0.333333)}
    assert lead["arrivals_per_day"] == 5.0
    r, h = 0.3, 30.0
    decay = math.exp(-r * h)
    lead_days = 20 * (1 - decay) / r + 5 / r * (h - (1 - decay) / r)
    assert mql["expected_inflow"] == pytest.approx(0.2 * lead_days, abs=1e-6)
    assert mql["expected_inflow_from_balances"] == pytest.approx(0.2 * 20 * (1 - decay) / r, abs=1e-6)
    assert lead["expected_inflow"] == pytest.approx(150.0)  # only arrivals move into lead
    assert mql["expected_balance_at_end"] == pytest.approx(4 + 0.2 * lead_days, abs=1e-6)  # mql keeps what it gets
    assert onboarding["expected_balance_at_end"] == 0.0 and onboarding["mean_days_in_stage"] is None
    revenue = result["revenue"]
    assert revenue["measured"]["new_revenue_per_win"] == "100.000000"  # 1000 over 10 wins
    assert revenue["measured"]["recurring_revenue_per_customer_day"] == "2.500000"  # 250 over 100 days
    wins = 0.2 * lead_days
    assert revenue["expected"]["expected_wins"] == pytest.approx(wins, abs=1e-6)
    assert revenue["expected"]["new"] == str(round(Decimal(wins * 100)))
    assert revenue["expected"]["recurring"] == "0"  # nobody is in onboarding during the horizon


def test_a_stage_never_occupied_keeps_what_it_gets() -> None:
    result = forecast(["lead", "mql"], measured(exposure_seconds={}), "JPY")
    assert all(row["exit_rate_per_day"] == 0.0 for row in result["stages"])
    assert result["stages"][0]["expected_balance_at_end"] == pytest.approx(20 + 150)
