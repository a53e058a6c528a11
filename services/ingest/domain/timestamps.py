"""RFC 3339 timestamps: the only form `occurred_at` (and other date-time fields) may take.

RFC 3339 section 5.6 with a mandatory offset ("Z" or "+09:00"); lower-case "t"/"z" and a space instead of
"T" (which the RFC's note allows and Python's `str(datetime)` writes) are accepted. A timestamp without an
offset is *naive*: it could be in any of the world's offsets, so it is refused rather than guessed.

`occurred_at` must also be storable and plausible (`TimeWindow`): PostgreSQL's timestamptz refuses
UTC offsets beyond ±15:59, and the event time must fall in a window around the ingest's clock
(services.common.limits: not before EARLIEST_YEAR, at most MAX_FUTURE ahead).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from services.common.limits import EARLIEST_YEAR, MAX_FUTURE, MAX_UTC_OFFSET

EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)
_EARLIEST_SECONDS = EARLIEST.timestamp()
_MIN_OFFSET = -MAX_UTC_OFFSET
_UTC = "%Y-%m-%dT%H:%M:%SZ"
_OFFSET_REASON = "has a UTC offset beyond ±15:59, the widest PostgreSQL stores (e.g. +09:00, -05:00, Z)"

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


@lru_cache(maxsize=4096)
def parse_rfc3339(value: str) -> datetime | None:
    """The aware datetime `value` denotes, or None when it is not an RFC 3339 date-time with an offset.

    Fractions finer than a microsecond are truncated (Python's resolution). Cached: validation checks the
    format and then parses the same string (datetimes are immutable, so sharing them is safe).
    """
    match = _RFC3339.fullmatch(value)
    if match is None or match["offset"] is None:
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:  # shaped right but out of range: month 13, hour 24, leap second 60, offset 25:00
        return None


def lacks_offset(value: str) -> bool:
    """True for a date-time shaped like RFC 3339 except that it has no UTC offset (a naive timestamp)."""
    match = _RFC3339.fullmatch(value)
    return match is not None and match["offset"] is None


def is_rfc3339(value: object) -> bool:
    """The `date-time` format check used by the JSON Schema validators (non-strings pass: `type` reports them)."""
    return not isinstance(value, str) or parse_rfc3339(value) is not None


class TimeWindow:
    """Judges occurred_at against PostgreSQL's offsets and the accepted window around one request's clock.

    Built once per batch. Times are compared as POSIX timestamps: comparing aware datetimes of different
    offsets costs more, and converting year 1 or 9999 to UTC would overflow (`timestamp()` does not).
    """

    def __init__(self, received_at: datetime) -> None:
        latest = received_at + MAX_FUTURE
        self._latest = latest.timestamp()
        self._outside = (
            f"is outside the accepted window: from {EARLIEST:{_UTC}} to {_days(MAX_FUTURE)} after the ingest's "
            f"clock, currently {latest.astimezone(UTC):{_UTC}}"
        )

    def problem(self, occurred_at: datetime) -> str | None:
        """Why an aware occurred_at cannot be accepted, or None."""
        offset = occurred_at.utcoffset()
        assert offset is not None, "parse_rfc3339 only gives aware datetimes"
        if not _MIN_OFFSET <= offset <= MAX_UTC_OFFSET:
            return _OFFSET_REASON
        if not _EARLIEST_SECONDS <= occurred_at.timestamp() <= self._latest:
            return self._outside
        return None


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day{'' if days == 1 else 's'}"
