"""Expected /v1/kpi/stages and /v1/kpi/stages/{stage}/balance from the simulation's record (PRODUCT.md "KPI
definitions", docs/kpi.md "Definitions": P = [from, to) by event time; balance at t counts stays with
entered_at <= t < exited_at; merges are neither flows nor durations)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.integration.kpi_api.generated import the_model as m
from tests.integration.kpi_api.generated.numbers import ratio, spread
from tests.integration.kpi_api.generated.simulation import Record, Stay


def in_period(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= at < end


def holds(stay: Stay, t: datetime) -> bool:
    return stay.entered_at <= t and (stay.exited_at is None or t < stay.exited_at)


def balances(record: Record, t: datetime) -> Counter[str]:
    return Counter(s.stage for s in record.stays if holds(s, t))


def forward(source: str, target: str) -> bool:
    there, here = m.path_index(target), m.path_index(source)
    return there is not None and (here is None or there > here)


def cohort(record: Record, stage: str, start: datetime, end: datetime, threshold: int) -> tuple[int, int]:
    """(persons who entered `stage` in P and reached index `threshold` by now, persons who entered it in P)."""
    persons = {record.person(mv.lead).id for mv in record.moves if mv.target == stage and in_period(mv.at, start, end)}
    furthest = [record.leads[p].furthest for p in persons]
    return sum(1 for f in furthest if f is not None and f >= threshold), len(persons)


def time_in_stage(record: Record, stage: str, start: datetime, end: datetime) -> list[timedelta]:
    return [
        s.left_at - s.since
        for s in record.stays
        if s.stage == stage and s.exit_kind == "transition" and s.left_at and in_period(s.left_at, start, end)
    ]


def ages(record: Record, stage: str, at: datetime) -> list[timedelta]:
    return [at - s.since for s in record.stays if s.stage == stage and holds(s, at)]


def stages(record: Record, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    inflow = Counter(mv.target for mv in record.moves if in_period(mv.at, start, end))
    outflow: dict[str, Counter[str]] = {s: Counter() for s in m.STAGES}
    for mv in record.moves:
        if mv.source is not None and in_period(mv.at, start, end):
            outflow[mv.source][mv.target] += 1
    at_end = balances(record, end)
    live = [lead.furthest for lead in record.leads.values() if lead.merged_into is None]
    rows = []
    for stage in m.STAGES:
        index = m.path_index(stage)
        out = outflow[stage]
        cohort_cvr = None
        if index is not None and index + 1 < len(m.SUCCESS_PATH):
            cohort_cvr = {
                **ratio(*cohort(record, stage, start, end, index + 1)),
                "next_stage": m.SUCCESS_PATH[index + 1],
            }
        sla = m.SLAS.get(stage)
        rows.append(
            {
                "stage": stage, "division": m.DIVISION[stage], "phase": m.PHASE[stage], "success_path_index": index,
                "inflow": inflow[stage],
                "outflow": {"total": sum(out.values()), "by_destination": dict(out)},
                "balance": at_end[stage],
                "reached": None if index is None else sum(1 for f in live if f is not None and f >= index),
                "cohort_cvr": cohort_cvr,
                "period_cvr": ratio(sum(n for t, n in out.items() if forward(stage, t)), inflow[stage]),
                "time_in_stage": spread(time_in_stage(record, stage, start, end)),
                "age": spread(ages(record, stage, now)),
                "sla": None if sla is None else {
                    "id": sla[0], "within_seconds": int(sla[1].total_seconds()),
                    "breaches": breaches(record, stage, start, end), "overdue_now": overdue(record, stage, now),
                },
            }
        )  # fmt: skip
    return rows


def breaches(record: Record, stage: str, start: datetime, end: datetime) -> int:
    """Stays whose deadline fell in P while they held it (no SlaMet in THE MODEL: its SLAs are met by leaving)."""
    return sum(
        1
        for s in record.stays
        if s.stage == stage and s.sla_due is not None and in_period(s.sla_due, start, end) and holds(s, s.sla_due)
    )


def overdue(record: Record, stage: str, now: datetime) -> int:
    return sum(
        1
        for s in record.stays
        if s.stage == stage and s.exited_at is None and s.entered_at <= now and s.sla_due and s.sla_due <= now
    )


def balance_series(record: Record, stage: str, start: datetime, end: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """One point per local date P touches: the balance at the next local midnight, the last clipped to `to`."""
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    points = []
    mine = [s for s in record.stays if s.stage == stage]
    day: date = first
    while day <= last:
        # The instant the next day begins (on 2026-09-06 Santiago skips 00:00: the day begins at 01:00 -03:00).
        midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        at = min(midnight, end)
        points.append({"date": day.isoformat(), "at": at.astimezone(zone).isoformat(),
                       "balance": sum(1 for s in mine if holds(s, at))})  # fmt: skip
        day += timedelta(days=1)
    return {"stage": stage, "division": m.DIVISION[stage], "balance": points[-1]["balance"], "series": points}
