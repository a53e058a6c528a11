"""Every /v1/kpi route with `by=` each of THE MODEL's dimensions, and with filters, against the record cut per
slice (expected_slices.py): `all` equals the unsliced expectation, each slice the expectation over its leads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.integration.kpi_api.generated import expected_flow, expected_money, expected_outlook
from tests.integration.kpi_api.generated.compare import differences
from tests.integration.kpi_api.generated.dimensions import NAMES
from tests.integration.kpi_api.generated.expected_accounts import RULE, Accounts
from tests.integration.kpi_api.generated.expected_forecast import close, forecast_estimates
from tests.integration.kpi_api.generated.expected_slices import Body, Slice, check_sliced, only, split, value_of
from tests.integration.kpi_api.generated.journeys import END, NOW, START
from tests.integration.kpi_api.generated.simulation import Record

D = timedelta(days=1)
UTC_ZONE = ZoneInfo("UTC")
Get = Callable[..., Awaitable[dict[str, Any]]]
Expect = Callable[[Record, Slice], Body]


async def slice_answers(get: Get, kpi: httpx.AsyncClient, record: Record, header: Callable[..., Body]) -> list[str]:
    problems: list[str] = await _accounts(get, kpi, record, header)
    start, mid, late = START, START + 45 * D, START + 60 * D
    whole, last = {"from": start.isoformat(), "to": END.isoformat()}, {"from": late.isoformat(), "to": END.isoformat()}
    routes: list[tuple[str, str, dict[str, Any], Expect]] = [
        ("stages", "/v1/kpi/stages", whole, lambda r, _: {"stages": expected_flow.stages(r, start, END, NOW)}),
        ("balance mql", "/v1/kpi/stages/mql/balance", whole,
         lambda r, _: _series(expected_flow.balance_series(r, "mql", start, END, UTC_ZONE))),
        ("revenue", "/v1/kpi/revenue", whole, lambda r, _: expected_money.revenue(r, start, END, "JPY")),
        ("feedback", "/v1/kpi/feedback", whole, lambda r, _: expected_money.feedback(r, start, END)),
        ("bottleneck", "/v1/kpi/bottleneck", last, lambda r, _: expected_outlook.bottleneck(r, late, END, 3, "JPY")),
        ("forecast", "/v1/kpi/forecast", last,
         lambda r, _: expected_outlook.forecast_inputs(r, late, END, NOW, "JPY")),
    ]  # fmt: skip
    for dimension in NAMES:
        parts = split(record, dimension)
        for name, path, period, expect in routes:
            answer = await get(kpi, path, by=dimension, **period)
            problems += check_sliced(f"{name} by {dimension}", answer, dimension, expect(record, None), parts, expect)
        period = {"from": mid.isoformat(), "to": END.isoformat()}
        answer = await get(kpi, "/v1/kpi/customer-success", by=dimension, **period)

        def success(part: Record, value: Slice, dimension: str = dimension) -> Body:
            def keep(lead: str) -> bool:
                return value_of(record, lead, dimension) == value

            return expected_money.customer_success(part, mid, END, "JPY", customers_of=record, keep=keep)

        whole = expected_money.customer_success(record, mid, END, "JPY")
        problems += check_sliced(f"customer success by {dimension}", answer, dimension, whole, parts, success)
    problems += await _accounts_sliced(get, kpi, record)
    problems += await _estimates(get, kpi, record)
    problems += await _filtered(get, kpi, record)
    return problems


async def _accounts(get: Get, kpi: httpx.AsyncClient, record: Record, header: Callable[..., Body]) -> list[str]:
    """/v1/kpi/accounts over two periods, unsliced."""
    accounts, problems = Accounts(record), []
    for first, last in ((START, END), (START + 30 * D, START + 60 * D)):
        answer = await get(kpi, "/v1/kpi/accounts", **{"from": first.isoformat(), "to": last.isoformat()})
        expected = {**header(first, last), "rule": RULE, **accounts.answer(first, last, "JPY")}
        found = differences(expected, answer)
        problems += [f"accounts {first}..{last}: {found[:20]}"] if found else []
    return problems


async def _accounts_sliced(get: Get, kpi: httpx.AsyncClient, record: Record) -> list[str]:
    """/v1/kpi/accounts by every dimension: an account in the slice of its first lead."""
    accounts, problems = Accounts(record), []
    for dimension in NAMES:

        def body(part: Record, value: Slice, dimension: str = dimension) -> Body:
            return accounts.answer(START, END, "JPY", keep=lambda lead: value_of(record, lead, dimension) == value)

        answer = await get(kpi, "/v1/kpi/accounts", by=dimension, **{"from": START.isoformat(), "to": END.isoformat()})
        whole = accounts.answer(START, END, "JPY")
        problems += check_sliced(f"accounts by {dimension}", answer, dimension, whole, split(record, dimension), body)
    return problems


async def _estimates(get: Get, kpi: httpx.AsyncClient, record: Record) -> list[str]:
    """The forecast's Markov estimates per source (floating point both ways: within 1e-6, as unsliced)."""
    first, last = START + 60 * D, END
    answer = await get(kpi, "/v1/kpi/forecast", by="source", **{"from": first.isoformat(), "to": last.isoformat()})
    parts = split(record, "source")
    problems = []
    for part in answer["slices"]:
        found = close(forecast_estimates(parts[part["value"]], first, last, "JPY"), part)
        problems += [f"forecast estimates of source {part['value']!r}: {found[:10]}"] if found else []
    return problems


async def _filtered(get: Get, kpi: httpx.AsyncClient, record: Record) -> list[str]:
    """Filters on two dimensions (the projection tables' path) and the leads without a value."""
    sources = ["google", "bing"]
    kept = only(only(record, "source", set(sources)), "segment", {"enterprise", None})
    period = {"from": START.isoformat(), "to": END.isoformat()}
    answer = await get(kpi, "/v1/kpi/stages", by="owner", source=sources, segment=["enterprise", ""], **period)
    expect: Expect = lambda r, _: {"stages": expected_flow.stages(r, START, END, NOW)}  # noqa: E731
    problems = check_sliced(
        "stages by owner, filtered", answer, "owner", expect(kept, None), split(kept, "owner"), expect
    )
    if answer.get("filters") != {"source": sorted(sources), "segment": ["", "enterprise"]}:
        problems.append(f"filters echoed as {answer.get('filters')}")
    none = await get(kpi, "/v1/kpi/revenue", source="", **period)
    expected = expected_money.revenue(only(record, "source", {None}), START, END, "JPY")
    problems += [f"revenue without a source: {d}" for d in differences(expected, none)]
    return problems


def _series(body: Body) -> Body:
    return {k: v for k, v in body.items() if k in ("balance", "series")}
