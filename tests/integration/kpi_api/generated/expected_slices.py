"""Expected sliced answers (docs/kpi.md "Slices"): `all` is the unsliced answer, and each slice is the answer
computed over the record cut down to the leads whose person holds the slice's value (`split`). A slice the
service leaves out must be one with nothing to show: its expected answer equals that of an empty record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tests.integration.kpi_api.generated.compare import differences, report
from tests.integration.kpi_api.generated.simulation import Record

Body = dict[str, Any]
Slice = str | None
NO_SLICE = "\x00"  # a value no lead holds: the answer of a slice with nothing in it


def value_of(record: Record, lead: str, dimension: str) -> Slice:
    held = record.person(lead).values.get(dimension)
    return None if held is None else held[0]


def split(record: Record, dimension: str, keep: Callable[[str], bool] = lambda lead: True) -> dict[Slice, Record]:
    """value -> the record of the leads whose person holds it (every lead of a person together), among `keep`."""
    parts: dict[Slice, Record] = defaultdict(Record)
    where = {lead: value_of(record, lead, dimension) for lead in record.leads if keep(lead)}
    for lead, value in where.items():
        parts[value].leads[lead] = record.leads[lead]
    for s in record.stays:
        if s.lead in where:
            parts[where[s.lead]].stays.append(s)
    for mv in record.moves:
        if mv.lead in where:
            parts[where[mv.lead]].moves.append(mv)
    for b in record.bookings:
        if b.lead in where:
            parts[where[b.lead]].bookings.append(b)
    for f in record.feedback:
        if f.lead in where:
            parts[where[f.lead]].feedback.append(f)
    return dict(parts)


def only(record: Record, dimension: str, values: set[Slice]) -> Record:
    """The record of the leads whose person's value is one of `values` (a filter)."""
    parts = split(record, dimension)
    kept = Record()
    for value in values:
        part = parts.get(value, Record())
        kept.leads |= part.leads
        kept.stays += part.stays
        kept.moves += part.moves
        kept.bookings += part.bookings
        kept.feedback += part.feedback
    return kept


def check_sliced(
    what: str,
    answer: Body,
    dimension: str,
    whole: Body,
    parts: dict[Slice, Record],
    body: Callable[[Record, Slice], Body],
) -> list[str]:
    """`answer` (with `by=dimension`) against `whole` and `body(part, value)` per slice."""
    problems = []
    if answer.get("by") != dimension:
        problems.append(f"{what}: by is {answer.get('by')!r}")
    found = differences(whole, answer.get("all"), ".all")
    listed = {part["value"]: part for part in answer.get("slices", [])}
    empty = body(Record(), NO_SLICE)
    for value in sorted(parts.keys() | listed.keys(), key=lambda v: (v is None, v or "")):
        expected = body(parts.get(value, Record()), value)
        if value in listed:
            found += differences(expected, listed[value], f".slices[{value!r}]")
        elif differences(expected, empty):
            found.append(f".slices: {value!r} is missing (expected {str(expected)[:300]})")
    order = [part["value"] for part in answer.get("slices", [])]
    if order != sorted(order, key=lambda v: (v is None, v or "")):
        found.append(f".slices: not in value order: {order[:20]}")
    if found:
        problems.append(report(what, found))
    return problems
