"""occurred_at as PostgreSQL can store it and as it can plausibly be: the offset, and the accepted window.

- PostgreSQL's timestamptz refuses UTC offsets beyond ±15:59 (RFC 3339 allows up to ±23:59).
- The time must fall in [EARLIEST_YEAR-01-01T00:00Z, the ingest's clock + MAX_FUTURE] (services.common.limits).

`TimeWindow` judges the RFC 3339 text itself, which `timestamps.parse_rfc3339` has already accepted, instead of
the aware datetime: every operation on an aware datetime goes through its tzinfo's methods (a comparison or
`timestamp()` of one costs ~1 µs, the whole check ~1.4 µs), and converting year 1 or 9999 to UTC overflows.
The text compares in time order once it is brought into one shape: the wall-clock part is compared with the
window's bounds written as wall-clock times in the event's own offset ("2000-01-01T09:00:00" for +09:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.limits import EARLIEST_YEAR, MAX_FUTURE

EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)
_OFFSET_REASON = "has a UTC offset beyond ±15:59, the widest PostgreSQL stores (e.g. +09:00, -05:00, Z)"
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MICROSECONDS = 26  # "YYYY-MM-DDTHH:MM:SS.ffffff": finer fractions are truncated, as parse_rfc3339 does


class TimeWindow:
    """The window around one request's clock (build one per batch; it keeps the bounds per offset seen)."""

    def __init__(self, received_at: datetime) -> None:
        latest = (received_at + MAX_FUTURE).astimezone(UTC)
        self._latest = latest.replace(tzinfo=None)
        self._bounds: dict[str, tuple[str, str]] = {}  # offset text -> (earliest, latest) as wall-clock text
        self._outside = (
            f"is outside the accepted window: from {EARLIEST:{_UTC_FORMAT}} to {_days(MAX_FUTURE)} after the "
            f"ingest's clock, currently {latest:{_UTC_FORMAT}}"
        )

    def problem(self, value: str) -> str | None:
        """Why `value`, an RFC 3339 date-time with an offset that parse_rfc3339 accepted, cannot be accepted."""
        cut = len(value) - (1 if value[-1] in "Zz" else 6)  # where the offset begins
        offset = value[cut:]
        if offset[1:3] > "15":  # "+16:00".."+23:59" (minutes are 00..59); "Z"[1:3] is ""
            return _OFFSET_REASON
        bounds = self._bounds.get(offset) or self._bounds_in(offset)
        wall = value[:cut] if value[10] == "T" else f"{value[:10]}T{value[11:cut]}"  # or "t", or " "
        if len(wall) > _MICROSECONDS:
            wall = wall[:_MICROSECONDS]
        # A shorter fraction sorts first, as its value does ("…:05" < "…:05.5"); the earliest bound has none.
        if not bounds[0] <= wall <= bounds[1]:
            return self._outside
        return None

    def _bounds_in(self, offset: str) -> tuple[str, str]:
        shift = timedelta(0) if offset in ("Z", "z") else _offset(offset)
        earliest = (EARLIEST.replace(tzinfo=None) + shift).isoformat(timespec="seconds")
        bounds = earliest, (self._latest + shift).isoformat(timespec="microseconds")
        self._bounds[offset] = bounds
        return bounds


def _offset(text: str) -> timedelta:
    """ "+09:00" -> 9 hours, "-05:30" -> -5.5 hours."""
    span = timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))
    return -span if text[0] == "-" else span


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day{'' if days == 1 else 's'}"
