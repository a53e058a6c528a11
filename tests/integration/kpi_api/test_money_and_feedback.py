"""GET /v1/kpi/revenue, /v1/kpi/customer-success and /v1/kpi/feedback against hand-computed numbers."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from tests.integration.kpi_api.scenario import T0, D, H, Scenario, iso, kpi_client

PERIOD = {"from": iso(T0), "to": iso(T0 + 7 * D)}
NOW = T0 + 9 * D
M, IS, FS, CS = "marketing", "inside_sales", "field_sales", "customer_success"


async def test_revenue_by_kind_shared_and_attributed(settings: ServiceSettings, engine: AsyncEngine) -> None:
    s = Scenario()
    s.book("A", "new", "1000000", T0 + D, {M: "300000", IS: "300000", FS: "400000"})
    s.book("A", "renewal", "200000", T0 + 2 * D, {CS: "200000"})
    s.book("B", "upsell", "100001", T0 + 3 * D, {FS: "50001", CS: "50000"})  # the odd yen: field_sales first
    s.book("B", "cross_sell", "50000", T0 + 7 * D - H, {FS: "25000", CS: "25000"})
    s.book("C", "new", "-1000", T0 + 4 * D, {M: "-300", IS: "-300", FS: "-400"})  # a refund
    s.book("A", "new", "999", T0 + 7 * D, {M: "999"})  # at `to`: outside P
    s.book("A", "new", "5", T0 - H, {M: "5"})  # before P
    s.book("D", "new", "12.50", T0 + D, {M: "12.50"}, currency="USD")  # another currency: not summed
    await s.write(engine)
    async with kpi_client(settings, NOW) as client:
        body = (await client.get("/v1/kpi/revenue", params=PERIOD)).json()
    assert body["currency"] == "JPY"
    assert body["by_kind"] == {
        "new": {"count": 2, "amount": "999000"},
        "renewal": {"count": 1, "amount": "200000"},
        "upsell": {"count": 1, "amount": "100001"},
        "cross_sell": {"count": 1, "amount": "50000"},
    }
    assert body["shared"] == {"count": 5, "amount": "1349001"}
    assert body["attributed"] == {
        "new": {M: "299700", IS: "299700", FS: "399600", CS: "0"},
        "renewal": {M: "0", IS: "0", FS: "0", CS: "200000"},
        "upsell": {M: "0", IS: "0", FS: "50001", CS: "50000"},
        "cross_sell": {M: "0", IS: "0", FS: "25000", CS: "25000"},
    }
    for kind, shares in body["attributed"].items():
        assert sum(Decimal(v) for v in shares.values()) == Decimal(body["by_kind"][kind]["amount"])
    assert sum(Decimal(v) for v in body["attributed_by_division"].values()) == Decimal(body["shared"]["amount"])
    assert body["excluded"] == [{"kind": "new", "currency": "USD", "count": 1, "amount": "12.50"}]


async def test_churn_renewal_nrr_grr(settings: ServiceSettings, engine: AsyncEngine) -> None:
    s = Scenario()
    # Customers at T0 (onboarding + active): C1 and C2. C3 churned before P; C4 is won in P.
    s.path("C1", ("onboarding", T0 - 40 * D), ("active", T0 - 30 * D))
    s.path("C2", ("onboarding", T0 - 10 * D), ("active", T0 + 2 * D), ("churned", T0 + 5 * D))
    s.path("C3", ("active", T0 - 20 * D), ("churned", T0 - D))
    s.path("C4", ("onboarding", T0 + D))
    # Previous period [T0-7d, T0): account A1 100,000; lead C2 50,000; account A3 30,000; lead C5 10,000.
    s.book("C1", "new", "100000", T0 - 5 * D, {FS: "100000"}, account="A1")
    s.book("C2", "new", "50000", T0 - 4 * D, {FS: "50000"})
    s.book("C3", "renewal", "30000", T0 - 6 * D, {CS: "30000"}, account="A3")
    s.path("C5", ("active", T0 - 9 * D))
    s.book("C5", "renewal", "10000", T0 - 3 * D, {CS: "10000"})
    s.book("C1", "new", "7", T0 - 8 * D, {FS: "7"}, account="A1")  # before the previous period
    # P: A1 expands to 120,000; C2 and A3 book nothing; C4 is new (not in the cohort); C5 was merged into C6,
    # which books 5,000 (the same customer: the merge is resolved).
    s.book("C1", "renewal", "80000", T0 + 3 * D, {CS: "80000"}, account="A1")
    s.book("C1", "upsell", "40000", T0 + 4 * D, {CS: "20000", FS: "20000"}, account="A1")
    s.book("C4", "new", "70000", T0 + D, {FS: "70000"})
    s.path("C6", ("lead", T0 - 30 * D))
    s.merge("C6", "C5", T0 + D, kept="C5")
    s.book("C6", "upsell", "5000", T0 + 2 * D, {CS: "2500", FS: "2500"})
    await s.write(engine)
    async with kpi_client(settings, NOW) as client:
        body = (await client.get("/v1/kpi/customer-success", params=PERIOD)).json()
    assert body["previous_period"] == {"from": iso(T0 - 7 * D), "to": iso(T0)}
    assert body["customer_stages"] == ["onboarding", "active"] and body["churn_stages"] == ["churned"]
    # At T0: C1 (active), C2 (onboarding) and C5 (active; merged into C6 only in P).
    assert body["counts"] == {"customers_at_start": 3, "churned": 1, "renewals_won": 1}
    assert body["churn_rate"] == {"numerator": 1, "denominator": 3, "value": 0.333333}
    assert body["renewal_rate"] == {"numerator": 1, "denominator": 2, "value": 0.5}
    assert body["retention"] == {
        "currency": "JPY",
        "cohort_customers": 4,
        "retained_customers": 2,
        "starting_revenue": "190000",
        "current_revenue": "125000",
        "gross_retained_revenue": "105000",
    }
    assert body["nrr"] == {"numerator": "125000", "denominator": "190000", "value": 0.657895}
    assert body["grr"] == {"numerator": "105000", "denominator": "190000", "value": 0.552632}


async def test_feedback_per_division_pair_and_campaign(settings: ServiceSettings, engine: AsyncEngine) -> None:
    s = Scenario()
    s.feedback(FS, IS, 4, True, T0 + D)
    s.feedback(FS, IS, 2, False, T0 + 2 * D)
    s.feedback(FS, IS, 3, None, T0 + 3 * D)  # no answer: out of the met-expectations share, in the mean
    s.feedback(IS, M, 5, True, T0 + D, campaign="spring")
    s.feedback(IS, M, 2, False, T0 + D, campaign="spring")
    s.feedback(IS, M, 4, None, T0 + D, campaign="webinar")
    s.feedback(IS, M, 1, False, T0 - D, campaign="spring")  # before P
    await s.write(engine)
    async with kpi_client(settings, NOW) as client:
        body = (await client.get("/v1/kpi/feedback", params=PERIOD)).json()
    assert body["by_divisions"] == [
        {
            "from_division": FS, "to_division": IS, "count": 3,
            "mean_rating": {"numerator": 9, "denominator": 3, "value": 3.0},
            "met_expectations": {"numerator": 1, "denominator": 2, "value": 0.5},
        },
        {
            "from_division": IS, "to_division": M, "count": 3,
            "mean_rating": {"numerator": 11, "denominator": 3, "value": 3.666667},
            "met_expectations": {"numerator": 1, "denominator": 2, "value": 0.5},
        },
    ]  # fmt: skip
    assert body["by_campaign"] == [
        {
            "campaign": "spring", "count": 2,
            "mean_rating": {"numerator": 7, "denominator": 2, "value": 3.5},
            "met_expectations": {"numerator": 1, "denominator": 2, "value": 0.5},
        },
        {
            "campaign": "webinar", "count": 1,
            "mean_rating": {"numerator": 4, "denominator": 1, "value": 4.0},
            "met_expectations": {"numerator": 0, "denominator": 0, "value": None},
        },
    ]  # fmt: skip
