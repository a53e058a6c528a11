"""occurred_at must fall in a window around the ingest's clock (2000-01-01 to a day ahead): the document says
so in words, JSON Schema cannot. Generated bodies get their timestamps moved into the window, keeping the
month, day, time and offset, so that schemathesis tests what the document promises."""

from __future__ import annotations

from typing import Any

from services.ingest.domain.timestamps import parse_rfc3339

TIME_FIELDS = frozenset({"occurred_at", "timestamp", "originalTimestamp"})  # the envelope's and Segment's


def in_window(body: Any) -> Any:
    """`body` with every well-formed timestamp of a time field moved to a year from 2001 to 2024."""
    if isinstance(body, dict):
        return {k: _moved(v) if k in TIME_FIELDS else in_window(v) for k, v in body.items()}
    if isinstance(body, list):
        return [in_window(item) for item in body]
    return body


def _moved(value: Any) -> Any:
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        return value  # not a timestamp (a negative case): left as generated
    leap_day = (parsed.month, parsed.day) == (2, 29)
    year = 2004 + 4 * (parsed.year % 5) if leap_day else 2001 + parsed.year % 24
    return f"{year:04d}{value[4:]}"
