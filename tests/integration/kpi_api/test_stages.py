"""GET /v1/kpi/stages and /v1/kpi/stages/{stage}/balance against hand-computed numbers (PRODUCT.md definitions).

P = [T0, T0 + 7 d), now = T0 + 9 d. The leads (path indexes: visitor 0, lead 1, mql 2, sal 3, sql 4):
  L1  visitor T0-2d, lead T0+1d, mql T0+1d+1h, sal T0+1d+5h (SLA met by leaving), sql T0+3d (open)
  L2  visitor T0+2d, mql T0+2d+1h (skips lead): open past its 24 h SLA -> breach in P and overdue now
  L3  lead T0-5d, sql T0+4d (skips mql and sal: they count as reached)
  L4  mql T0-3d (breach before P), nurture T0+1d, mql T0+5d (re-entry: inflow again), sal T0+6d+2h (late)
  L5  visitor T0+1d; L6 lead T0+2d; merge T0+3d (L5 survives with L6's lead stay: since T0+2d, no inflow);
      L5 mql T0+6d (due T0+7d = `to`: not in P, overdue now)
  L7  mql T0+4d, SLA met T0+4d+3h (neither breach nor overdue); L8 mql T0+2d, SLA met late T0+3d+1h
      (a breach in P, not overdue now)
  L9  visitor T0-1d; L10 mql T0+1d; merge T0+4d after L10's deadline (T0+2d) keeping L10's stay: the breach
      counts once (L10's stay held the deadline), L9's reopened stay is overdue now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.kpi.adapters import queries_balance
from tests.integration.kpi_api.scenario import MODEL, T0, D, H, Scenario, iso, kpi_client

NOW = T0 + 9 * D
PERIOD = {"from": iso(T0), "to": iso(T0 + 7 * D)}


def scenario() -> Scenario:
    s = Scenario()
    s.path("L1", ("visitor", T0 - 2 * D), ("lead", T0 + D), ("mql", T0 + D + H), ("sal", T0 + D + 5 * H))
    s.enter("L1", "sql", T0 + 3 * D)
    s.path("L2", ("visitor", T0 + 2 * D), ("mql", T0 + 2 * D + H))
    s.path("L3", ("lead", T0 - 5 * D), ("sql", T0 + 4 * D))
    s.path("L4", ("mql", T0 - 3 * D), ("nurture", T0 + D), ("mql", T0 + 5 * D), ("sal", T0 + 6 * D + 2 * H))
    s.path("L5", ("visitor", T0 + D))
    s.path("L6", ("lead", T0 + 2 * D))
    s.merge("L5", "L6", T0 + 3 * D, kept="L6")
    s.enter("L5", "mql", T0 + 6 * D)
    s.enter("L7", "mql", T0 + 4 * D)
    s.meet_sla("L7", T0 + 4 * D + 3 * H)
    s.enter("L8", "mql", T0 + 2 * D)
    s.meet_sla("L8", T0 + 3 * D + H)
    s.path("L9", ("visitor", T0 - D))
    s.path("L10", ("mql", T0 + D))
    s.merge("L9", "L10", T0 + 4 * D, kept="L10")
    return s


def spread(count: int, median: float | None = None, p90: float | None = None) -> dict[str, Any]:
    return {"count": count, "median_seconds": median, "p90_seconds": p90}


def ratio(n: int, d: int, value: float | None) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "value": value}


async def test_every_stage_kpi_by_its_definition(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await scenario().write(engine)
    async with kpi_client(settings, NOW) as client:
        response = await client.get("/v1/kpi/stages", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2025-03-01T00:00:00+00:00" and body["to"] == "2025-03-08T00:00:00+00:00"
    rows = {row["stage"]: row for row in body["stages"]}
    assert [row["stage"] for row in body["stages"]] == [
        "visitor", "lead", "mql", "sal", "sql", "opportunity", "onboarding", "active", "nurture", "churned",
    ]  # fmt: skip

    def column(key: str) -> dict[str, Any]:
        return {stage: row[key] for stage, row in rows.items() if row[key] not in (0, None)}

    assert column("inflow") == {"visitor": 2, "lead": 2, "mql": 7, "sal": 2, "sql": 2, "nurture": 1}
    assert {s: r["outflow"] for s, r in rows.items() if r["outflow"]["total"]} == {
        "visitor": {"total": 2, "by_destination": {"lead": 1, "mql": 1}},
        "lead": {"total": 3, "by_destination": {"mql": 2, "sql": 1}},
        "mql": {"total": 3, "by_destination": {"sal": 2, "nurture": 1}},
        "sal": {"total": 1, "by_destination": {"sql": 1}},
        "nurture": {"total": 1, "by_destination": {"mql": 1}},
    }
    # Balance at `to`: the merge's reopened stays do not double count (L5 in lead, L9 in mql).
    assert column("balance") == {"mql": 5, "sal": 1, "sql": 2}
    assert {s: r["reached"] for s, r in rows.items()} == {
        "visitor": 8, "lead": 8, "mql": 8, "sal": 3, "sql": 2, "opportunity": 0, "onboarding": 0, "active": 0,
        "nurture": None, "churned": None,
    }  # fmt: skip
    assert rows["visitor"]["cohort_cvr"] == {**ratio(2, 2, 1.0), "next_stage": "lead"}
    assert rows["lead"]["cohort_cvr"] == {**ratio(2, 2, 1.0), "next_stage": "mql"}  # L6 counts as L5 (merged)
    assert rows["mql"]["cohort_cvr"] == {**ratio(2, 7, 0.285714), "next_stage": "sal"}
    assert rows["sal"]["cohort_cvr"] == {**ratio(1, 2, 0.5), "next_stage": "sql"}
    assert rows["sql"]["cohort_cvr"] == {**ratio(0, 2, 0.0), "next_stage": "opportunity"}
    assert rows["opportunity"]["cohort_cvr"] == {**ratio(0, 0, None), "next_stage": "onboarding"}
    assert rows["active"]["cohort_cvr"] is None and rows["nurture"]["cohort_cvr"] is None
    assert {s: r["period_cvr"] for s, r in rows.items() if r["period_cvr"]["denominator"]} == {
        "visitor": ratio(2, 2, 1.0), "lead": ratio(3, 2, 1.5), "mql": ratio(2, 7, 0.285714),
        "sal": ratio(1, 2, 0.5), "sql": ratio(0, 2, 0.0), "nurture": ratio(1, 1, 1.0),
    }  # fmt: skip
    assert rows["opportunity"]["period_cvr"] == ratio(0, 0, None)
    assert {s: r["time_in_stage"] for s, r in rows.items() if r["time_in_stage"]["count"]} == {
        "visitor": spread(2, 131400.0, 259200.0),  # 1 h and 3 d (L5's ended by a merge: not a time in stage)
        "lead": spread(3, 345600.0, 777600.0),  # 1 h, 4 d (L5: since L6's entry), 9 d
        "mql": spread(3, 93600.0, 345600.0),  # 4 h, 26 h, 4 d
        "sal": spread(1, 154800.0, 154800.0),
        "nurture": spread(1, 345600.0, 345600.0),
    }
    assert {s: r["age"] for s, r in rows.items() if r["age"]["count"]} == {
        "mql": spread(5, 601200.0, 691200.0),  # 3 d, 5 d, 6 d 23 h, 7 d, 8 d (L9 since L10's entry)
        "sal": spread(1, 252000.0, 252000.0),
        "sql": spread(2, 475200.0, 518400.0),
    }
    assert {s: r["sla"] for s, r in rows.items() if r["sla"]} == {
        "mql": {"id": "mql_accepted_24h", "within_seconds": 86400, "breaches": 4, "overdue_now": 3},
        "sql": {"id": "sql_meeting_held_14d", "within_seconds": 14 * 86400, "breaches": 0, "overdue_now": 0},
        "onboarding": {"id": "onboarding_completed_30d", "within_seconds": 30 * 86400, "breaches": 0, "overdue_now": 0},
    }
    assert rows["mql"]["division"] == "marketing" and rows["mql"]["phase"] == "mid"


async def test_daily_balance_series_counts_a_merge_once(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await scenario().write(engine)
    async with kpi_client(settings, NOW) as client:
        response = await client.get("/v1/kpi/stages/lead/balance", params=PERIOD)
        missing = await client.get("/v1/kpi/stages/leed/balance", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    # lead stays: L3 [T0-5d, T0+4d), L1 [T0+1d, T0+1d+1h), L6 [T0+2d, T0+3d) then L5 [T0+3d, T0+6d).
    # At a day's end exactly (T0+1d) L1 has entered; at T0+3d L6 has left and L5 entered: 2, not 3.
    assert [p["balance"] for p in body["series"]] == [2, 2, 2, 1, 1, 0, 0]
    assert body["series"][0] == {"date": "2025-03-01", "at": "2025-03-02T00:00:00+00:00", "balance": 2}
    assert body["series"][-1]["at"] == "2025-03-08T00:00:00+00:00"
    assert body["balance"] == 0 and body["stage"] == "lead" and body["division"] == "marketing"
    assert missing.status_code == 404
    assert missing.json()["detail"]["field"] == "stage"


async def test_days_and_dates_are_in_the_reporting_zone(settings: ServiceSettings, engine: AsyncEngine) -> None:
    s = Scenario()
    s.path("T1", ("mql", T0 - 10 * H))  # 2025-02-28T14:00Z = 2025-02-28 23:00 in Tokyo
    s.path("T2", ("mql", T0 - 8 * H))  # 2025-02-28T16:00Z = 2025-03-01 01:00 in Tokyo
    await s.write(engine)
    async with kpi_client(settings, NOW, reporting_timezone="Asia/Tokyo") as client:
        response = await client.get("/v1/kpi/stages/mql/balance", params={"from": "2025-02-28", "to": "2025-03-02"})
    body = response.json()
    assert body["from"] == "2025-02-28T00:00:00+09:00" and body["to"] == "2025-03-02T00:00:00+09:00"
    # Tokyo days: 02-28 ends at 02-28T15:00Z (T1 entered), 03-01 ends at 03-01T15:00Z (T2 too; T1's SLA is
    # not a balance matter).
    assert body["series"] == [
        {"date": "2025-02-28", "at": "2025-03-01T00:00:00+09:00", "balance": 1},
        {"date": "2025-03-01", "at": "2025-03-02T00:00:00+09:00", "balance": 2},
    ]


async def test_balance_by_either_formula_equals_the_definition(settings: ServiceSettings, engine: AsyncEngine) -> None:
    """Early instants count entries minus exits, recent ones open stays with corrections: both are exact."""
    s = scenario()
    await s.write(engine)
    names = list(MODEL.stages)
    instants = sorted({T0 - 6 * D + k * 6 * H for k in range(60)} | {row["entered_at"] for row in s.stays})
    async with engine.connect() as conn:
        for t in instants:
            expected = {
                name: sum(
                    1
                    for row in s.stays
                    if row["stage"] == name
                    and row["entered_at"] <= t
                    and (row["exited_at"] is None or t < row["exited_at"])
                )
                for name in names
            }
            assert await queries_balance.balances_at(conn, names, t) == {None: expected}, t
