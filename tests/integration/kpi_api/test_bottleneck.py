"""GET /v1/kpi/bottleneck on a hand-computed scenario: P = [T0, T0+7d), one trailing period [T0-7d, T0).

Trailing: S1..S4 enter sal and all move on to sql (sal CVR 4/4); S1 and S2 reach opportunity and are won
(S1 at T0-3d for 300,000; S2 in P, T0+1d, for 500,000). In P: P1..P4 enter sal at T0+1d, only P1 moves on.
  sal: CVR 1/4 against 4/4 -> shortfall 4 x 3/4 = 3; balance 0 -> 3; 3 leads older than the trailing p90
       time in sal (2 d); held 3; won rate 2/4 -> 1.5 expected wins x 400,000 average deal = 600,000.
  sql: CVR 0/1 against 2/4 -> 0.5; balance 2 -> 2; aged 2 (p90 of 1 d); held 2 x 2/4 = 1 win -> 400,000.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from tests.integration.kpi_api.scenario import T0, D, Scenario, iso, kpi_client


async def test_ranked_by_the_revenue_held_back(settings: ServiceSettings, engine: AsyncEngine) -> None:
    s = Scenario()
    s.path("S1", ("sal", T0 - 6 * D), ("sql", T0 - 5 * D), ("opportunity", T0 - 4 * D), ("onboarding", T0 - 3 * D))
    s.book("S1", "new", "300000", T0 - 3 * D, {"field_sales": "300000"})
    s.path("S2", ("sal", T0 - 6 * D), ("sql", T0 - 5 * D), ("opportunity", T0 - 4 * D), ("onboarding", T0 + D))
    s.book("S2", "new", "500000", T0 + D, {"field_sales": "500000"})
    s.path("S3", ("sal", T0 - 6 * D), ("sql", T0 - 4 * D), ("nurture", T0 + D))
    s.path("S4", ("sal", T0 - 5 * D), ("sql", T0 - 3 * D))
    s.path("P1", ("sal", T0 + D), ("sql", T0 + 2 * D))
    for lead in ("P2", "P3", "P4"):
        s.enter(lead, "sal", T0 + D)
    await s.write(engine)
    async with kpi_client(settings, T0 + 9 * D) as client:
        response = await client.get(
            "/v1/kpi/bottleneck", params={"from": iso(T0), "to": iso(T0 + 7 * D), "trailing": 1}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["trailing"] == {"periods": 1, "from": iso(T0 - 7 * D), "to": iso(T0)}
    assert body["won_stage"] == "onboarding"
    assert body["average_new_deal"] == {"count": 2, "sum": "800000", "average": "400000"}
    ranking = body["ranking"]
    assert [r["stage"] for r in ranking] == ["sal", "sql", "visitor", "lead", "mql", "opportunity"]
    sal, sql = ranking[0], ranking[1]
    assert (sal["held_leads"], sal["expected_wins_held_back"], sal["revenue_held_back"]) == (3.0, 1.5, "600000")
    assert sal["components"] == {
        "cvr": {
            "period": {"numerator": 1, "denominator": 4, "value": 0.25},
            "trailing": {"numerator": 4, "denominator": 4, "value": 1.0},
            "drop": 0.75,
            "shortfall_leads": 3.0,
        },
        "balance": {"at_from": 0, "at_to": 3, "growth": 3, "growth_rate": None, "growth_leads": 3},
        "age": {
            "count": 3, "median_seconds": 518400.0, "p90_seconds": 518400.0,
            "threshold_seconds": 172800.0, "aged_leads": 3,
        },
        "won_rate": {"numerator": 2, "denominator": 4, "value": 0.5},
    }  # fmt: skip
    assert (sql["held_leads"], sql["expected_wins_held_back"], sql["revenue_held_back"]) == (2.0, 1.0, "400000")
    assert sql["components"]["cvr"]["shortfall_leads"] == 0.5
    assert sql["components"]["balance"]["growth"] == 0
    assert sql["components"]["age"]["aged_leads"] == 2 and sql["components"]["age"]["threshold_seconds"] == 86400.0
    assert ranking[-1]["components"]["won_rate"] == {"numerator": 2, "denominator": 2, "value": 1.0}
    assert [r["rank"] for r in ranking] == [1, 2, 3, 4, 5, 6]
