"""Issue 5, done-when 1: >= 5,000 generated leads through THE MODEL over 90 days (skipped stages, recycles,
merges, late and duplicated events, revenue of every kind in JPY, USD and KWD, churn, renewals, feedback),
driven through the real engine and KPI projector; every /v1/kpi answer equals what the test computed from its
own record: counts and medians exactly, money to the minor unit (the forecast's Markov estimates within 1e-6).

The envelopes go straight onto the engine's topic, keyed by person, so each person's events reach the engine
in the generated order (the order the simulation applied them in). The KPI service's clock is fixed at NOW.
The answers are checked with the live projector's tables, again after a rebuild, in three reporting
currencies and three reporting time zones, and by every dimension of the model (`by=`, filters).
docs/kpi.md "How the numbers are tested" lists what is covered. STAGETRACK_GENERATED_SEEDS=1,2,3,4,5 runs the
test once per seed (default: one fixed seed).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event, encode
from services.common.stage_model.model import default_model
from services.kpi.app.bootstrap import create_app
from services.kpi.app.rebuild import rebuild
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer
from tests.integration.kpi.conftest import kpi_settings
from tests.integration.kpi_api.generated import expected_flow, expected_forecast, expected_money, expected_outlook
from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.compare import differences, report
from tests.integration.kpi_api.generated.expected_forecast import close
from tests.integration.kpi_api.generated.journeys import END, NOW, START
from tests.integration.kpi_api.generated.population import people
from tests.integration.kpi_api.generated.simulation import Record, simulate
from tests.integration.kpi_api.generated.slice_answers import slice_answers
from tests.keys import bearer, new_key
from tests.stack import eventually, unique

PERSONS = 5_000
SEEDS = [int(seed) for seed in os.environ.get("STAGETRACK_GENERATED_SEEDS", "20261128").split(",")]
D = timedelta(days=1)
UTC_ZONE = ZoneInfo("UTC")
# Daily series in other reporting zones: Tokyo (+09:00), Santiago (its clocks skip midnight on 2026-09-06).
ZONED = {
    ZoneInfo("Asia/Tokyo"): ("2026-06-01", "2026-08-30"),
    ZoneInfo("America/Santiago"): ("2026-08-01", "2026-09-10"),
}
# (from, to) as sent, and the instants they mean in UTC reporting.
PERIODS = [
    ("2026-06-01", "2026-08-30", START, END),  # the 90 days, as dates
    ("2026-07-01T09:00:00+09:00", "2026-07-31T00:00:00Z", START + 30 * D, START + 60 * D),
    ("2026-08-10T13:17:00Z", "2026-08-17T13:17:00Z", datetime.fromisoformat("2026-08-10T13:17:00+00:00"),
     datetime.fromisoformat("2026-08-17T13:17:00+00:00")),
    ("2026-05-15", "2026-10-01", datetime(2026, 5, 15, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),  # past now
]  # fmt: skip


@contextlib.asynccontextmanager
async def kpi_api(
    engine_settings: EngineSettings, *, projector: bool = False, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The KPI app in-process with its clock at NOW; `projector`: it also keeps the projections up to date."""
    config = kpi_settings(engine_settings).model_copy(update=settings)
    app = create_app(config, clock=lambda: NOW, run_projector=projector)
    async with app.router.lifespan_context(app):
        headers = bearer(await new_key(app.state.db, "read:kpi"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kpi", headers=headers) as client:
            yield client


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, f"{path} {params}: {response.status_code} {response.text[:500]}"
    body: dict[str, Any] = response.json()
    return body


def header(start: datetime, end: datetime, zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """The fields every answer starts with: P and now in the reporting zone, the zone, the model's name."""
    local = {"from": start, "to": end, "now": NOW}
    return {**{k: t.astimezone(zone).isoformat() for k, t in local.items()}, "timezone": zone.key,
            "model": {"name": "the-model"}}  # fmt: skip


def check(what: str, expected: Any, actual: Any) -> list[str]:
    found = differences(expected, actual)
    return [report(what, found)] if found else []


async def store_head(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT coalesce(max(position), 0) FROM lead_events")) or 0)


async def sent_and_stored(producer: Producer, engine: AsyncEngine, sent: list[tuple[bytes, Event]]) -> int:
    """Sends every envelope, waits until the engine has processed each distinct one; the store's head."""
    for key, event in sent:
        await producer.producer.send(producer.topic, encode(event), key=key)
    await producer.producer.flush()
    distinct = len({event.event_id for _, event in sent})

    async def processed() -> bool:
        async with engine.connect() as conn:
            return bool(await conn.scalar(text("SELECT count(*) FROM processed_events")) == distinct)

    await eventually(processed, 240, f"the engine processing {distinct} envelopes ({len(sent)} sent)")
    return await store_head(engine)


@pytest.mark.parametrize("seed", SEEDS)
async def test_every_kpi_answer_equals_the_generated_record(
    seed: int,
    producer: Producer,
    engine_settings: EngineSettings,
    engine_client: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    sent = people(unique("g"), PERSONS, seed)
    record = simulate([event for _, event in sent])
    assert_the_workload_is_what_it_claims(record, sent)
    # The KPI projector runs beside the engine from the first envelope: its batches are cut anywhere.
    async with kpi_api(engine_settings, projector=True) as kpi:
        head = await sent_and_stored(producer, engine, sent)

        async def projected() -> bool:
            async with engine.connect() as conn:
                return bool(await conn.scalar(text("SELECT position FROM kpi_checkpoint")) == head)

        await eventually(projected, 240, f"the KPI projector reaching store position {head}")
        problems = await stage_answers(kpi, record) + await money_answers(kpi, record, "JPY")
        problems += await outlook_answers(kpi, record)
        problems += await slice_answers(get, kpi, record, header)
    rebuilt = await rebuild(engine, default_model(), batch=997)  # `stagetrack kpi rebuild`: the same answers
    assert rebuilt.position == head
    async with kpi_api(engine_settings) as after_rebuild:
        problems += [f"after a rebuild: {p}" for p in await stage_answers(after_rebuild, record)]
    for currency in ("USD", "KWD"):
        async with kpi_api(engine_settings, reporting_currency=currency) as other:
            problems += await money_answers(other, record, currency)
    for zone, (first, last) in ZONED.items():
        async with kpi_api(engine_settings, reporting_timezone=zone.key) as zoned:
            start = datetime.combine(date.fromisoformat(first), time(0), tzinfo=zone)
            end = datetime.combine(date.fromisoformat(last), time(0), tzinfo=zone)
            answer = await get(zoned, "/v1/kpi/stages", **{"from": first, "to": last})
            expected_stages = {**header(start, end, zone), "stages": expected_flow.stages(record, start, end, NOW)}
            problems += check(f"stages {zone.key} {first}..{last}", expected_stages, answer)
            for stage in ("mql", "opportunity", "nurture"):
                answer = await get(zoned, f"/v1/kpi/stages/{stage}/balance", **{"from": first, "to": last})
                expected = {**header(start, end, zone), **expected_flow.balance_series(record, stage, start, end, zone)}
                problems += check(f"balance {stage} {zone.key} {first}..{last}", expected, answer)
    assert not problems, "\n\n".join(problems)


def assert_the_workload_is_what_it_claims(record: Record, sent: list[tuple[bytes, Event]]) -> None:
    pairs = {(mv.source, mv.target) for mv in record.moves}
    assert len(record.leads) >= 5_000, len(record.leads)
    assert record.merges > 100 and record.duplicates > 100 and record.late > 50, (record.merges, record.late)
    assert {("lead", "sql"), ("sal", "opportunity"), ("sql", "onboarding")} <= pairs  # skips
    assert {("nurture", "mql"), ("opportunity", "nurture"), ("churned", "onboarding")} <= pairs  # recycles, win-back
    assert {b.kind for b in record.bookings} == set(m.KINDS) and {b.currency for b in record.bookings} == set(
        m.MINOR_UNIT
    )
    assert any(b.amount < 0 for b in record.bookings) and any(b.account for b in record.bookings)
    assert any(b.currency == "JPY" and b.amount != b.amount.to_integral_value() for b in record.bookings)
    assert {s.exit_kind for s in record.stays} == {None, "transition", "merge", "absorbed"}
    assert any(s.since < s.entered_at for s in record.stays)  # stays reopened by a merge, moves late after one
    assert any(s.exited_at == s.entered_at for s in record.stays)  # zero-length stays (clamped late moves)
    assert sum(1 for s in record.stays if s.sla_due is not None and s.exited_at == s.sla_due) >= 3  # left at it
    assert len({e.occurred_at.utcoffset() for _, e in sent}) == 4
    chains = [lead for lead in record.leads.values() if lead.merged_into and record.leads[lead.merged_into].merged_into]
    assert chains and any(record.leads[b.lead].merged_into and not b.account for b in record.bookings)
    assert len(sent) > 35_000
    values = {name: {v[0] for lead in record.leads.values() if (v := lead.values.get(name))} for name in m.DIMENSIONS}
    assert len(values["source"]) == 4 and len(values["campaign"]) == 3 and len(values["segment"]) == 3, values
    assert len(values["owner"]) == 5 and len(values["account"]) > 100, values
    assert record.mixed_merges > 20, record.mixed_merges  # persons whose two halves came from two sources


def periods(record: Record) -> list[tuple[str, str, datetime, datetime]]:
    """The fixed periods, plus periods whose bounds are instants of a transition, a booking, a feedback and an
    SLA deadline met by leaving exactly at it (an instant exactly at `from` is in P, one exactly at `to` is not,
    but a move at `to` is in the balance at `to`)."""
    moves = sorted(mv.at for mv in record.moves)
    booked = sorted(b.at for b in record.bookings)
    given = sorted(f.at for f in record.feedback)
    due = sorted(s.sla_due for s in record.stays if s.sla_due is not None and s.exited_at == s.sla_due)
    bounds = [
        (moves[len(moves) // 3], booked[2 * len(booked) // 3]),
        (booked[len(booked) // 3], moves[2 * len(moves) // 3]),
        (given[len(given) // 3], given[2 * len(given) // 3]),
        (due[len(due) // 3], due[2 * len(due) // 3]),
    ]
    return PERIODS + [(start.isoformat(), end.isoformat(), start, end) for start, end in bounds]


async def stage_answers(kpi: httpx.AsyncClient, record: Record) -> list[str]:
    problems: list[str] = []
    for sent_from, sent_to, start, end in periods(record):
        answer = await get(kpi, "/v1/kpi/stages", **{"from": sent_from, "to": sent_to})
        expected = {**header(start, end), "stages": expected_flow.stages(record, start, end, NOW)}
        problems += check(f"stages {sent_from}..{sent_to}", expected, answer)
    sent_from, sent_to, start, end = PERIODS[0]
    for stage in m.STAGES:
        answer = await get(kpi, f"/v1/kpi/stages/{stage}/balance", **{"from": sent_from, "to": sent_to})
        series = expected_flow.balance_series(record, stage, start, end, UTC_ZONE)
        problems += check(f"balance {stage}", {**header(start, end), **series}, answer)
    return problems


async def money_answers(kpi: httpx.AsyncClient, record: Record, currency: str) -> list[str]:
    problems: list[str] = []
    for sent_from, sent_to, start, end in periods(record):
        period = {"from": sent_from, "to": sent_to}
        answer = await get(kpi, "/v1/kpi/revenue", **period)
        expected = {**header(start, end), **expected_money.revenue(record, start, end, currency)}
        problems += check(f"revenue {currency} {period}", expected, answer)
        answer = await get(kpi, "/v1/kpi/feedback", **period)
        problems += check(
            f"feedback {period}", {**header(start, end), **expected_money.feedback(record, start, end)}, answer
        )
    for start in (START + 45 * D, START + 60 * D):
        answer = await get(kpi, "/v1/kpi/customer-success", **{"from": start.isoformat(), "to": END.isoformat()})
        previous = {"from": (start - (END - start)).isoformat(), "to": start.isoformat()}
        expected = {**header(start, END), "previous_period": previous}
        expected |= expected_money.customer_success(record, start, END, currency)
        problems += check(f"customer success {currency} from {start}", expected, answer)
    return problems


async def outlook_answers(kpi: httpx.AsyncClient, record: Record) -> list[str]:
    problems: list[str] = []
    start = START + 60 * D
    for trailing in (2, 3):
        answer = await get(
            kpi, "/v1/kpi/bottleneck", **{"from": start.isoformat(), "to": END.isoformat(), "trailing": trailing}
        )
        window = {"periods": trailing, "from": (start - trailing * (END - start)).isoformat(), "to": start.isoformat()}
        expected = {**header(start, END), "trailing": window, "currency": "JPY"}
        expected |= expected_outlook.bottleneck(record, start, END, trailing, "JPY")
        problems += check(f"bottleneck trailing {trailing}", expected, answer)
    for first, last in ((START, START + 45 * D), (START + 60 * D, END)):
        answer = await get(kpi, "/v1/kpi/forecast", **{"from": first.isoformat(), "to": last.isoformat()})
        horizon = {"from": last.isoformat(), "to": (last + (last - first)).isoformat()}
        expected = {**header(first, last), "horizon": horizon}
        expected |= expected_outlook.forecast_inputs(record, first, last, NOW, "JPY")
        problems += check(f"forecast inputs {first}..{last}", expected, answer)
        estimates = close(expected_forecast.forecast_estimates(record, first, last, "JPY"), answer)
        problems += [report(f"forecast estimates {first}..{last}", estimates)] if estimates else []
    return problems
