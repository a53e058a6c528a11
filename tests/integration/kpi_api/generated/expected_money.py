"""Expected /v1/kpi/revenue, /v1/kpi/customer-success and /v1/kpi/feedback from the simulation's record
(PRODUCT.md "KPI definitions"; docs/kpi.md: bookings by event time, other currencies listed apart, a customer
is the booking's account or else the person, the cohort is who booked > 0 in the previous equal period)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.expected_flow import balances, in_period
from tests.integration.kpi_api.generated.numbers import money, ratio, value
from tests.integration.kpi_api.generated.simulation import Feedback, Record


def revenue(record: Record, start: datetime, end: datetime, currency: str) -> dict[str, Any]:
    booked = [b for b in record.bookings if in_period(b.at, start, end)]
    mine = [b for b in booked if b.currency == currency]
    count = Counter(b.kind for b in mine)
    total = {k: sum((b.amount for b in mine if b.kind == k), Decimal(0)) for k in m.KINDS}
    attributed = {k: {d: Decimal(0) for d in m.DIVISIONS} for k in m.KINDS}
    for b in mine:
        for d, share in b.shares.items():
            attributed[b.kind][d] += share
    excluded: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for b in booked:
        if b.currency != currency:
            excluded[(b.kind, b.currency)].append(b.amount)
    return {
        "currency": currency,
        "by_kind": {k: {"count": count[k], "amount": money(total[k], currency)} for k in m.KINDS},
        "shared": {"count": len(mine), "amount": money(sum(total.values(), Decimal(0)), currency)},
        "attributed": {k: {d: money(a, currency) for d, a in per.items()} for k, per in attributed.items()},
        "attributed_by_division": {
            d: money(sum((attributed[k][d] for k in m.KINDS), Decimal(0)), currency) for d in m.DIVISIONS
        },
        "excluded": [
            {"kind": k, "currency": c, "count": len(amounts), "amount": money(sum(amounts, Decimal(0)), c)}
            for (k, c), amounts in sorted(excluded.items())
        ],
    }


def customer_success(
    record: Record,
    start: datetime,
    end: datetime,
    currency: str,
    *,
    customers_of: Record | None = None,
    keep: Callable[[str], bool] = lambda lead: True,
) -> dict[str, Any]:
    """`customers_of`, `keep` (a slice): the customers of the whole record whose earliest booking of the two
    periods is a lead `keep` accepts; the counts from `record` (the slice's own)."""
    at_start = balances(record, start)
    customers_at_start = at_start["onboarding"] + at_start["active"]
    churned = sum(1 for mv in record.moves if mv.target == "churned" and in_period(mv.at, start, end))
    renewals = sum(1 for b in record.bookings if b.kind == "renewal" and in_period(b.at, start, end))
    whole = customers_of or record
    base_start = start - (end - start)
    base: dict[str, Decimal] = defaultdict(Decimal)
    now: dict[str, Decimal] = defaultdict(Decimal)
    first: dict[str, str] = {}
    for b in sorted(whole.bookings, key=lambda b: b.at):  # stable: store order among equal times
        if b.currency != currency or not in_period(b.at, base_start, end):
            continue
        customer = f"account:{b.account}" if b.account else f"lead:{whole.person(b.lead).id}"
        first.setdefault(customer, b.lead)
        if in_period(b.at, base_start, start):
            base[customer] += b.amount
        else:
            now[customer] += b.amount
    cohort = [c for c, amount in base.items() if amount > 0 and keep(first[c])]
    starting = sum((base[c] for c in cohort), Decimal(0))
    current = sum((now[c] for c in cohort), Decimal(0))
    gross = sum((min(now[c], base[c]) for c in cohort), Decimal(0))

    def money_ratio(numerator: Decimal) -> dict[str, Any]:
        return {"numerator": money(numerator, currency), "denominator": money(starting, currency),
                "value": value(numerator, starting)}  # fmt: skip

    return {
        "customer_stages": ["onboarding", "active"],
        "churn_stages": ["churned"],
        "counts": {"customers_at_start": customers_at_start, "churned": churned, "renewals_won": renewals},
        "churn_rate": ratio(churned, customers_at_start),
        "renewal_rate": ratio(renewals, renewals + churned),
        "retention": {
            "currency": currency,
            "cohort_customers": len(cohort),
            "retained_customers": sum(1 for c in cohort if now[c] > 0),
            "starting_revenue": money(starting, currency),
            "current_revenue": money(current, currency),
            "gross_retained_revenue": money(gross, currency),
        },
        "nrr": money_ratio(current),
        "grr": money_ratio(gross),
    }


def _sums(items: list[Feedback]) -> dict[str, Any]:
    answered = [f.met for f in items if f.met is not None]
    ratings = sum(f.rating for f in items)
    return {
        "count": len(items),
        "mean_rating": {"numerator": ratings, "denominator": len(items), "value": value(ratings, len(items))},
        "met_expectations": ratio(sum(1 for a in answered if a), len(answered)),
    }


def feedback(record: Record, start: datetime, end: datetime) -> dict[str, Any]:
    pairs: dict[tuple[str, str], list[Feedback]] = defaultdict(list)
    campaigns: dict[str, list[Feedback]] = defaultdict(list)
    for f in record.feedback:
        if in_period(f.at, start, end):
            pairs[(f.source, f.target)].append(f)
            if f.campaign is not None:
                campaigns[f.campaign].append(f)
    return {
        "by_divisions": [
            {"from_division": s, "to_division": t, **_sums(items)} for (s, t), items in sorted(pairs.items())
        ],
        "by_campaign": [{"campaign": c, **_sums(items)} for c, items in sorted(campaigns.items())],
    }
