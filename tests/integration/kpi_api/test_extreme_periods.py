"""Periods at the ends of the calendar (years 1, 1000 and 9999): 200 with the right numbers where the period
means something, else 422 naming the parameter and the supported range; never 500 (docs/kpi.md "API")."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from tests.integration.kpi_api.scenario import T0, D, Scenario, kpi_client
from tests.integration.kpi_api.test_validation import ROUTES

NOW = T0 + 9 * D
ALL_TIME = {"from": "1000-01-01", "to": "9999-12-31"}
UTC_RANGE = "the supported range 0001-01-01T00:00:00+00:00 to 9999-12-31T00:00:00+00:00"
EARLIEST = "0001-01-01T00:00:00+00:00"
HORIZON = "the forecast horizon [to, to + (to - from)) would end after 9999-12-31T00:00:00+00:00"


async def scenario(engine: AsyncEngine) -> None:
    s = Scenario()
    s.path("C1", ("onboarding", T0 - 40 * D), ("active", T0 - 30 * D))
    s.path("C2", ("onboarding", T0 - 10 * D), ("active", T0 - 5 * D), ("churned", T0 + 5 * D))
    s.book("C1", "new", "100000", T0 - 5 * D, {"field_sales": "100000"})
    s.book("C1", "renewal", "120000", T0 + D, {"customer_success": "120000"})
    s.feedback("field_sales", "inside_sales", 4, True, T0)
    await s.write(engine)


def by_stage(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["stage"]: row for row in body["stages"]}


async def test_all_time_from_the_year_1000_to_9999(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await scenario(engine)
    async with kpi_client(settings, NOW) as client:
        answers = {route: await client.get(route, params=ALL_TIME) for route in ROUTES}
    assert {route: r.status_code for route, r in answers.items()} == {
        **dict.fromkeys(ROUTES, 200),
        "/v1/kpi/stages/mql/balance": 422,  # a daily series of 3,286,000 days
        "/v1/kpi/forecast": 422,  # the next 9,000 years cannot be told apart from no horizon at all
    }
    assert answers["/v1/kpi/forecast"].json()["detail"][0]["field"] == "to"
    assert HORIZON in answers["/v1/kpi/forecast"].json()["detail"][0]["reason"]

    stages = by_stage(answers["/v1/kpi/stages"].json())
    assert (stages["onboarding"]["inflow"], stages["active"]["inflow"], stages["churned"]["inflow"]) == (2, 2, 1)
    assert (stages["active"]["balance"], stages["churned"]["balance"]) == (1, 1)
    revenue = answers["/v1/kpi/revenue"].json()
    assert revenue["shared"] == {"count": 2, "amount": "220000"}
    assert answers["/v1/kpi/feedback"].json()["by_divisions"][0]["count"] == 1

    success = answers["/v1/kpi/customer-success"].json()
    # The previous period of equal length would begin 7,999 years before the year 1: it begins at the year 1
    # (nothing can have happened earlier, so its numbers are the same).
    assert success["previous_period"] == {"from": EARLIEST, "to": "1000-01-01T00:00:00+00:00"}
    assert success["counts"] == {"customers_at_start": 0, "churned": 1, "renewals_won": 1}
    assert success["churn_rate"] == {"numerator": 1, "denominator": 0, "value": None}
    assert success["renewal_rate"] == {"numerator": 1, "denominator": 2, "value": 0.5}
    assert success["retention"]["cohort_customers"] == 0 and success["nrr"]["value"] is None

    bottleneck = answers["/v1/kpi/bottleneck"].json()
    assert bottleneck["trailing"] == {"periods": 3, "from": EARLIEST, "to": "1000-01-01T00:00:00+00:00"}
    assert bottleneck["average_new_deal"]["count"] == 1  # the trailing window and P: every booking ever


@pytest.mark.parametrize(
    ("period", "balances"),
    [
        ({"from": "1000-01-01", "to": "1000-02-01"}, {}),
        ({"from": "0001-01-01", "to": "0001-01-02"}, {}),
        ({"from": "0001-01-01T00:00:00Z", "to": "0001-01-01T00:00:00.000001Z"}, {}),
        ({"from": "9999-12-29T00:00:00Z", "to": "9999-12-30T00:00:00Z"}, {"active": 1, "churned": 1}),  # as now
    ],
)
async def test_periods_at_the_ends_answer_what_happened_in_them(
    settings: ServiceSettings, engine: AsyncEngine, period: dict[str, str], balances: dict[str, int]
) -> None:
    await scenario(engine)
    async with kpi_client(settings, NOW) as client:
        answers = {route: await client.get(route, params=period) for route in ROUTES}
    assert {route: r.status_code for route, r in answers.items()} == dict.fromkeys(ROUTES, 200), {
        route: r.text for route, r in answers.items() if r.status_code != 200
    }
    stages = answers["/v1/kpi/stages"].json()["stages"]
    assert all(row["inflow"] == 0 for row in stages)
    assert {row["stage"]: row["balance"] for row in stages if row["balance"]} == balances
    assert answers["/v1/kpi/revenue"].json()["shared"] == {"count": 0, "amount": "0"}
    assert answers["/v1/kpi/customer-success"].json()["counts"]["customers_at_start"] == balances.get("active", 0)
    assert answers["/v1/kpi/forecast"].json()["horizon"]["from"] == answers["/v1/kpi/forecast"].json()["to"]


@pytest.mark.parametrize(
    ("period", "field", "words"),
    [
        ({"from": "2025-01-01", "to": "9999-12-31T23:59:59.999999Z"}, "to", UTC_RANGE),
        ({"from": "0001-01-01T00:00:00+15:00", "to": "2025-01-01"}, "from", UTC_RANGE),  # 0000-12-31 in UTC
        ({"from": "9999-12-30", "to": "9999-12-31"}, "to", HORIZON),
    ],
)
async def test_instants_past_the_range_are_refused_naming_it(
    settings: ServiceSettings, engine: AsyncEngine, period: dict[str, str], field: str, words: str
) -> None:
    await scenario(engine)
    async with kpi_client(settings, NOW) as client:
        answers = {route: await client.get(route, params=period) for route in ROUTES}
    refused = {route: r for route, r in answers.items() if r.status_code == 422}
    expected = ["/v1/kpi/forecast"] if words == HORIZON else ROUTES
    assert sorted(refused) == sorted(expected), {route: r.status_code for route, r in answers.items()}
    assert all(r.status_code == 200 for route, r in answers.items() if route not in refused)
    for response in refused.values():
        (error,) = response.json()["detail"]
        assert error["field"] == field and words in error["reason"], error


async def test_the_range_is_the_years_1_to_9999_in_the_reporting_zone_too(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    """Midnight of 0001-01-01 in Tokyo is in the year 0 in UTC; the range is named in UTC for that zone."""
    await scenario(engine)
    async with kpi_client(settings, NOW, reporting_timezone="Asia/Tokyo") as client:
        early = await client.get("/v1/kpi/revenue", params={"from": "0001-01-01", "to": "2025-01-01"})
        first = await client.get("/v1/kpi/revenue", params={"from": "0001-01-01T00:00:00Z", "to": "0001-01-02"})
    assert early.status_code == 422
    (error,) = early.json()["detail"]
    assert error["field"] == "from"
    assert "0001-01-01T00:00:00+00:00 to 9999-12-30T15:00:00+00:00" in error["reason"]
    assert "reporting time zone Asia/Tokyo" in error["reason"]
    assert first.status_code == 200, first.text
    assert first.json()["from"] == "0001-01-01T09:18:59+09:18:59"  # Tokyo's local mean time in the year 1
