"""What PostgreSQL and Kafka can hold, for the parts of an event the schemas cannot judge.

- No NUL character (U+0000) in any string or object key of `properties`, at any depth: PostgreSQL's `text`
  and `jsonb` refuse it. The ids are judged by the envelope schema (`"not": {"type": "string", "pattern": ...}`
  refuses every control character, NUL included).
- The encoded event (the Kafka record's value) is at most the per-event limit, below the producer's largest
  request, so that an event Kafka would refuse is a 413 at the door and never a 503 a client retries forever.

Both come from one `orjson.dumps` of `properties` per event (~0.5 µs for a tracker's page view): orjson
writes NUL as the six characters `\\u0000`, so a scan of those bytes finds every NUL, and their length bounds
the event's size. A literal backslash-u0000 written by the sender also matches the scan; the walk that then
names the fields finds no NUL in it and accepts the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from services.common.envelope import Event, encode
from services.ingest.domain.problems import Problem, field_path
from services.ingest.domain.time_window import TimeWindow
from services.ingest.domain.timestamps import parse_rfc3339

NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"
# More than the envelope adds around `properties`: four ids of at most 128 characters (4 bytes each in UTF-8),
# type, source, two timestamps, the field names, and what money normalization adds. Below this, the size is
# known to fit without encoding the whole event.
ENVELOPE_ALLOWANCE = 4096
MAX_REPORTED = 10  # NUL problems named per event; a hostile event could hold thousands
TOO_LARGE = "is too large:"  # how a size refusal's reason begins (the API answers 413 when only these remain)
_VALUE_REASON = "contains a NUL character (\\u0000), which PostgreSQL cannot store"
_KEY_REASON = "has a key containing a NUL character (\\u0000), which PostgreSQL cannot store"


def check_storable(
    occurred_at: object, properties: object, encoded: bytes | None, window: TimeWindow
) -> tuple[datetime | None, int, list[Problem]]:
    """What PostgreSQL could not store of an item's occurred_at (its offset, the window) and properties (NUL).

    `encoded` is `properties_json(properties)` for an object (the caller has it already). Returns occurred_at
    parsed (None when it is no RFC 3339 date-time: the schema reports that), the length of `properties` as
    JSON, and the problems. A plain tuple: this runs for every event."""
    problems: list[Problem] = []
    parsed = parse_rfc3339(occurred_at) if isinstance(occurred_at, str) else None
    if isinstance(occurred_at, str) and parsed is not None and (reason := window.problem(occurred_at)):
        problems.append(Problem("occurred_at", reason))
    if not isinstance(properties, dict):  # the schema reports it
        return parsed, 0, problems
    if encoded is None:
        problems.append(Problem("properties", "holds a value JSON cannot carry"))
        return parsed, 0, problems
    if _ESCAPED_NUL in encoded:  # the common case, no NUL, costs this one C-speed scan
        problems += nul_problems(properties, encoded)
    return parsed, len(encoded), problems


def properties_json(properties: Mapping[str, Any]) -> bytes | None:
    """`properties` as JSON, or None when it holds what JSON cannot carry (only possible for objects built in
    Python, e.g. an int beyond 64 bits: a request body never parses into one)."""
    try:
        return orjson.dumps(properties)
    except orjson.JSONEncodeError:
        return None


def nul_problems(properties: Mapping[str, Any], encoded: bytes) -> list[Problem]:
    """The fields of `properties` holding a NUL, in a string or in a key; `encoded` is `properties_json`."""
    if _ESCAPED_NUL not in encoded:
        return []
    problems: list[Problem] = []
    stack: list[tuple[object, tuple[str | int, ...]]] = [(properties, ("properties",))]
    while stack and len(problems) <= MAX_REPORTED:  # iterative: no recursion on hostile nesting
        value, path = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                problems.append(Problem(field_path(path), _VALUE_REASON))
        elif isinstance(value, dict):
            if any(NUL in key for key in value):
                problems.append(Problem(field_path(path), _KEY_REASON))
            stack.extend((child, (*path, key)) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((child, (*path, i)) for i, child in reversed(list(enumerate(value))))
    if len(problems) > MAX_REPORTED:
        problems[MAX_REPORTED:] = [Problem("properties", "has more strings or keys containing a NUL character")]
    return problems


def size_problem(event: Event, properties_bytes: int, max_event_bytes: int) -> Problem | None:
    """A problem when the encoded event exceeds `max_event_bytes`; encodes it only when its properties alone
    come near the limit."""
    if properties_bytes + ENVELOPE_ALLOWANCE <= max_event_bytes:
        return None
    size = len(encode(event))
    if size <= max_event_bytes:
        return None
    reason = (
        f"{TOO_LARGE} {size:,} bytes once encoded, over the limit of {max_event_bytes:,} bytes per event "
        "(STAGETRACK_MAX_EVENT_BYTES); send large data elsewhere and a reference in the event"
    )
    return Problem("", reason)
