"""What every sliced answer must satisfy: `all` equals the answer without `by`, and the slices of every additive
measure sum exactly to `all` (docs/kpi.md "Slices"). Used by test_slices.py and the generated test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

Numbers = dict[str, Decimal]


def _ratio(prefix: str, r: dict[str, Any] | None) -> Iterator[tuple[str, Any]]:
    if r is not None:
        yield f"{prefix}.numerator", r["numerator"]
        yield f"{prefix}.denominator", r["denominator"]


def _stages(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for row in body["stages"]:
        s = row["stage"]
        yield f"{s}.inflow", row["inflow"]
        yield f"{s}.outflow", row["outflow"]["total"]
        for destination, n in row["outflow"]["by_destination"].items():
            yield f"{s}.outflow.{destination}", n
        yield f"{s}.balance", row["balance"]
        if row["reached"] is not None:
            yield f"{s}.reached", row["reached"]
        yield from _ratio(f"{s}.cohort_cvr", row["cohort_cvr"])
        yield from _ratio(f"{s}.period_cvr", row["period_cvr"])
        yield f"{s}.time_in_stage", row["time_in_stage"]["count"]
        yield f"{s}.age", row["age"]["count"]
        if row["sla"] is not None:
            yield f"{s}.breaches", row["sla"]["breaches"]
            yield f"{s}.overdue_now", row["sla"]["overdue_now"]


def _balance(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "balance", body["balance"]
    for point in body["series"]:
        yield f"series.{point['date']}", point["balance"]


def _revenue(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for kind, x in body["by_kind"].items():
        yield f"{kind}.count", x["count"]
        yield f"{kind}.amount", x["amount"]
    yield "shared.count", body["shared"]["count"]
    yield "shared.amount", body["shared"]["amount"]
    for kind, by in body["attributed"].items():
        for division, amount in by.items():
            yield f"attributed.{kind}.{division}", amount
    for division, amount in body["attributed_by_division"].items():
        yield f"attributed.{division}", amount
    for x in body["excluded"]:
        yield f"excluded.{x['kind']}.{x['currency']}.count", x["count"]
        yield f"excluded.{x['kind']}.{x['currency']}.amount", x["amount"]


def _customer_success(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield from body["counts"].items()
    yield from _ratio("churn_rate", body["churn_rate"])
    yield from _ratio("renewal_rate", body["renewal_rate"])
    retention = body["retention"]
    for key in ("cohort_customers", "retained_customers", "starting_revenue", "current_revenue",
                "gross_retained_revenue"):  # fmt: skip
        yield key, retention[key]
    yield from _ratio("nrr", body["nrr"])
    yield from _ratio("grr", body["grr"])


def _feedback(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for row in body["by_divisions"]:
        yield f"{row['from_division']}>{row['to_division']}", row["count"]
    for row in body["by_campaign"]:
        yield f"campaign.{row['campaign']}", row["count"]


def _bottleneck(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "deals", body["average_new_deal"]["count"]
    yield "deal_sum", body["average_new_deal"]["sum"]
    for row in body["ranking"]:
        c, s = row["components"], row["stage"]
        yield from _ratio(f"{s}.cvr.period", c["cvr"]["period"])
        yield from _ratio(f"{s}.cvr.trailing", c["cvr"]["trailing"])
        yield f"{s}.at_from", c["balance"]["at_from"]
        yield f"{s}.at_to", c["balance"]["at_to"]
        yield f"{s}.age", c["age"]["count"]
        yield from _ratio(f"{s}.won_rate", c["won_rate"])


def _forecast(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for row in body["stages"]:
        yield f"{row['stage']}.balance_at_start", row["balance_at_start"]
        if row["actual_inflow"] is not None:
            yield f"{row['stage']}.actual_inflow", row["actual_inflow"]
    measured = body["revenue"]["measured"]
    for key in ("wins", "new_revenue", "recurring_revenue"):
        yield key, measured[key]


def _accounts(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "accounts", body["accounts"]
    for row in body["stages"]:
        s = row["stage"]
        yield f"{s}.inflow", row["inflow"]
        yield f"{s}.outflow", row["outflow"]["total"]
        yield f"{s}.balance", row["balance"]
        yield f"{s}.reached", row["reached"]
        yield from _ratio(f"{s}.cohort_cvr", row["cohort_cvr"])
        yield from _ratio(f"{s}.period_cvr", row["period_cvr"])
    yield from _revenue(body["revenue"])
    yield from _customer_success({k: body[k] for k in ("retention", "nrr", "grr")} | _NO_COUNTS)


_NO_COUNTS: dict[str, Any] = {"counts": {}, "churn_rate": None, "renewal_rate": None}
ADDITIVE: dict[str, Callable[[dict[str, Any]], Iterator[tuple[str, Any]]]] = {
    "stages": _stages,
    "balance": _balance,
    "revenue": _revenue,
    "customer-success": _customer_success,
    "feedback": _feedback,
    "bottleneck": _bottleneck,
    "forecast": _forecast,
    "accounts": _accounts,
}


def numbers(route: str, body: dict[str, Any]) -> Numbers:
    return {path: Decimal(str(value)) for path, value in ADDITIVE[route](body)}


def check_sliced(route: str, sliced: dict[str, Any], unsliced: dict[str, Any]) -> None:
    """`all` is the unsliced answer; the slices of every additive number sum to `all`'s."""
    # the header is the sliced answer's top level; the rest of the unsliced answer is `all`
    assert sliced["all"] == {k: v for k, v in unsliced.items() if k not in sliced}, route
    whole = numbers(route, sliced["all"])
    summed: Numbers = {}
    for part in sliced["slices"]:
        for path, value in numbers(route, part).items():
            summed[path] = summed.get(path, Decimal(0)) + value
    differing = {p: (whole.get(p, 0), summed.get(p, 0)) for p in whole.keys() | summed.keys()
                 if whole.get(p, 0) != summed.get(p, 0)}  # fmt: skip
    assert not differing, (route, sliced["by"], differing)
    values = [part["value"] for part in sliced["slices"]]
    assert len(values) == len(set(values)), values
