"""Expected /v1/kpi/accounts from the record (docs/kpi.md "Accounts"), written out again for the test.

An account's leads are those whose person's account value is the account. Its level at an instant is the
highest success-path index any of its leads' stays entered by then (a skip passes the stages before); it moves
when that rises. inflow(S, P): rises to S in P; outflow(S, P): rises from S in P, by the level risen to;
balance(S, t): accounts at level S at t; reached(S): accounts whose level now is S or more; cohort CVR: of the
accounts that rose to S in P, those now past S. Revenue and NRR/GRR: the bookings of the account's leads, the
account as the customer. A slice holds the accounts whose first lead (earliest stay) holds the value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.expected_flow import in_period
from tests.integration.kpi_api.generated.expected_money import revenue
from tests.integration.kpi_api.generated.numbers import money, ratio, value
from tests.integration.kpi_api.generated.simulation import Record

RULE = "an account is in the most advanced success-path stage any of its leads reached"


class Accounts:
    """Each account's leads, first lead and level rises, worked out once for every slice of the record."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.members: dict[str, list[str]] = defaultdict(list)
        for lead in record.leads:
            held = record.person(lead).values.get("account")
            if held is not None:
                self.members[held[0]].append(lead)
        stays: dict[str, list[tuple[datetime, int | None]]] = defaultdict(list)
        for s in record.stays:
            stays[s.lead].append((s.entered_at, m.path_index(s.stage)))
        self.first: dict[str, str] = {}
        self.rises: dict[str, list[tuple[datetime, int, int | None]]] = {}
        for account, leads in self.members.items():
            starts = {lead: min(at for at, _ in stays[lead]) for lead in leads if stays[lead]}
            if starts:
                self.first[account] = min(starts, key=lambda lead: starts[lead])
            self.rises[account] = _rises([entry for lead in leads for entry in stays[lead]])

    def answer(
        self, start: datetime, end: datetime, currency: str, keep: Callable[[str], bool] = lambda lead: True
    ) -> dict[str, Any]:
        groups = {a: leads for a, leads in self.members.items() if a in self.first and keep(self.first[a])}
        inflow: dict[int, int] = defaultdict(int)
        outflow: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        balance: dict[int, int] = defaultdict(int)
        entered: dict[int, list[str]] = defaultdict(list)
        now: dict[str, int] = {}
        for account in groups:
            steps = self.rises[account]
            if not steps:
                continue
            now[account] = steps[-1][1]
            held = [level for at, level, _ in steps if at <= end]
            if held:
                balance[held[-1]] += 1
            for at, level, before in steps:
                if in_period(at, start, end):
                    inflow[level] += 1
                    entered[level].append(account)
                    if before is not None:
                        outflow[before][level] += 1
        rows = []
        for index, stage in enumerate(m.SUCCESS_PATH):
            out = outflow[index]
            cohort = None
            if index + 1 < len(m.SUCCESS_PATH):
                converted = sum(1 for a in entered[index] if now[a] > index)
                cohort = {**ratio(converted, len(entered[index])), "next_stage": m.SUCCESS_PATH[index + 1]}
            destinations = {m.SUCCESS_PATH[t]: n for t, n in sorted(out.items())}
            rows.append({
                "stage": stage, "division": m.DIVISION[stage], "success_path_index": index, "inflow": inflow[index],
                "outflow": {"total": sum(out.values()), "by_destination": destinations},
                "balance": balance[index], "reached": sum(1 for level in now.values() if level >= index),
                "cohort_cvr": cohort, "period_cvr": ratio(sum(out.values()), inflow[index]),
            })  # fmt: skip
        lead_account = {lead: a for a, leads in groups.items() for lead in leads}
        booked = Record(bookings=[b for b in self.record.bookings if b.lead in lead_account])
        return {
            "dimension": "account",
            "accounts": sum(balance.values()),
            "stages": rows,
            "revenue": revenue(booked, start, end, currency),
            **_retention(self.record, lead_account, start, end, currency),
        }


def _rises(entries: list[tuple[datetime, int | None]]) -> list[tuple[datetime, int, int | None]]:
    """(when, level, level before) each time the highest success-path index entered so far rose."""
    by_instant: dict[datetime, int] = {}
    for at, index in entries:
        if index is not None:
            by_instant[at] = max(by_instant.get(at, -1), index)
    found: list[tuple[datetime, int, int | None]] = []
    level: int | None = None
    for at in sorted(by_instant):
        if level is None or by_instant[at] > level:
            found.append((at, by_instant[at], level))
            level = by_instant[at]
    return found


def _retention(
    record: Record, lead_account: dict[str, str], start: datetime, end: datetime, currency: str
) -> dict[str, Any]:
    base_start = start - (end - start)
    base: dict[str, Decimal] = defaultdict(Decimal)
    now: dict[str, Decimal] = defaultdict(Decimal)
    for b in record.bookings:
        account = lead_account.get(b.lead)
        if account is None or b.currency != currency:
            continue
        if in_period(b.at, base_start, start):
            base[account] += b.amount
        elif in_period(b.at, start, end):
            now[account] += b.amount
    cohort = [a for a, amount in base.items() if amount > 0]
    starting = sum((base[a] for a in cohort), Decimal(0))
    current = sum((now[a] for a in cohort), Decimal(0))
    gross = sum((min(now[a], base[a]) for a in cohort), Decimal(0))

    def money_ratio(numerator: Decimal) -> dict[str, Any]:
        return {"numerator": money(numerator, currency), "denominator": money(starting, currency),
                "value": value(numerator, starting)}  # fmt: skip

    return {
        "retention": {
            "currency": currency,
            "cohort_customers": len(cohort),
            "retained_customers": sum(1 for a in cohort if now[a] > 0),
            "starting_revenue": money(starting, currency),
            "current_revenue": money(current, currency),
            "gross_retained_revenue": money(gross, currency),
        },
        "nrr": money_ratio(current),
        "grr": money_ratio(gross),
    }
