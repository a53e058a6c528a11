"""The bottleneck score: three estimates of held-back leads, the largest valued at the stage's won rate."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from services.kpi.domain.bottleneck import StageSignals, ranking, score
from services.kpi.domain.stats import Spread


def signals(stage: str, **overrides: object) -> StageSignals:
    base = dict(
        stage=stage, division="marketing", inflow=0, forward=0, trailing_inflow=0, trailing_forward=0,
        balance_from=0, balance_to=0, age=Spread(0, None, None), threshold_us=None, aged=0, won=0, cohort=0,
    )  # fmt: skip
    base.update(overrides)
    return StageSignals(**base)  # type: ignore[arg-type]


def test_each_component() -> None:
    # CVR fell from 30/40 to 10/40: 40 x (3/4 - 1/4) = 20 leads that would have moved on.
    x = score(signals("mql", inflow=40, forward=10, trailing_inflow=40, trailing_forward=30, won=1, cohort=10))
    assert x.shortfall == 20 and x.held == 20 and x.wins == 2
    # The balance grew by 7, 12 leads are older than the trailing p90: 12 held (the largest; they overlap).
    y = score(signals("sal", balance_from=3, balance_to=10, aged=12, won=1, cohort=2))
    assert (y.growth, y.held, y.wins) == (7, 12, 6)
    # A CVR that rose, a balance that shrank: nothing held.
    z = score(signals("sql", inflow=10, forward=9, trailing_inflow=10, trailing_forward=5, balance_from=9))
    assert (z.shortfall, z.growth, z.held) == (0, 0, 0)


def test_ranking_by_expected_wins_with_revenue() -> None:
    stages = [
        signals("lead", balance_from=0, balance_to=100, won=1, cohort=100),  # 100 held x 1% = 1 win
        signals("sal", balance_to=5, won=1, cohort=2),  # 5 x 1/2 = 2.5 wins
        signals("sql", inflow=4, forward=0, trailing_inflow=4, trailing_forward=4, won=0, cohort=3),  # 4 x 0
    ]
    deal, rows = ranking(stages, Decimal(3_000_000), 3, "JPY")
    assert deal == {"count": 3, "sum": "3000000", "average": "1000000"}
    assert [(r["rank"], r["stage"]) for r in rows] == [(1, "sal"), (2, "lead"), (3, "sql")]
    assert rows[0]["expected_wins_held_back"] == 2.5 and rows[0]["revenue_held_back"] == "2500000"
    assert rows[2]["held_leads"] == 4.0 and rows[2]["revenue_held_back"] == "0"
    cvr = rows[2]["components"]["cvr"]
    assert cvr["period"]["value"] == 0.0 and cvr["trailing"]["value"] == 1.0 and cvr["drop"] == 1.0
    assert rows[0]["components"]["balance"] == {
        "at_from": 0, "at_to": 5, "growth": 5, "growth_rate": None, "growth_leads": 5,
    }  # fmt: skip
    assert Fraction(rows[1]["components"]["won_rate"]["numerator"], 100) == Fraction(1, 100)
