"""Periods P = [from, to) and reporting days: what the `from`/`to` query parameters mean (docs/kpi.md "API").

`from`/`to` are RFC 3339 timestamps with an offset ("2024-04-01T09:00:00+09:00", "...Z") or dates
("2024-04-01") meaning midnight at the start of that day in the reporting time zone. A space where the
offset's "+" should be is read as "+" (an unencoded "+" in a URL query arrives as a space).

Both must lie in the supported range (`supported_range`): from 0001-01-01T00:00 to 9999-12-31T00:00, in UTC
and in the reporting zone alike (the answer shows them in that zone; the day left at the top keeps "the end
of the day" and one microsecond later representable). Periods the answer derives from P that would begin
before the range (the previous period, the trailing window) begin at its start instead: nothing can have
happened earlier, so their numbers are the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?", re.ASCII)
_SPACE_FOR_PLUS = re.compile(r"(?<=\d) (?=\d{2}:\d{2}$)", re.ASCII)
HINT = "give an RFC 3339 timestamp with an offset (2024-04-01T00:00:00+09:00) or a date (2024-04-01)"
EARLIEST = datetime.min.replace(tzinfo=UTC)  # 0001-01-01T00:00:00Z
LATEST = datetime.combine(date.max, time(0), tzinfo=UTC)  # 9999-12-31T00:00:00Z


class PeriodError(ValueError):
    """A refused `from`/`to`: `field` names the query parameter, `reason` says why in plain words."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PeriodErrors(ValueError):
    """Every problem found with `from`/`to`, reported together."""

    def __init__(self, errors: list[PeriodError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end), both aware datetimes in UTC."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def shifted(self, periods: int) -> Period:
        """The period `periods` lengths later (negative: earlier); OverflowError past the years 1 to 9999."""
        return Period(self.start + self.length * periods, self.end + self.length * periods)

    def trailing(self, periods: int) -> Period:
        """The `periods` lengths immediately before this one, as one period, beginning at EARLIEST at the latest."""
        return Period(earlier(self.start, self.length * periods), self.start)

    def previous(self) -> Period:
        """The period of equal length right before this one (beginning at EARLIEST at the latest)."""
        return self.trailing(1)


def earlier(t: datetime, by: timedelta) -> datetime:
    """`t - by`, or EARLIEST when that falls before the year 1 (nothing can have happened earlier)."""
    try:
        return max(t - by, EARLIEST)
    except OverflowError:
        return EARLIEST


def supported_range(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first and last instant `from`/`to` may be: within [EARLIEST, LATEST] in UTC and in `zone`."""
    try:
        first = max(EARLIEST, datetime.combine(EARLIEST.date(), time(0), tzinfo=zone).astimezone(UTC))
    except OverflowError:  # the zone is ahead of UTC: EARLIEST is already a time of day in the year 1 there
        first = EARLIEST
    try:
        last = min(LATEST, datetime.combine(LATEST.date(), time(0), tzinfo=zone).astimezone(UTC))
    except OverflowError:
        last = LATEST
    return first, last


def local_text(t: datetime, zone: ZoneInfo) -> str:
    """`t` in the reporting zone, or in UTC when the zone's date would fall outside the years 1 to 9999."""
    try:
        return t.astimezone(zone).isoformat()
    except OverflowError:
        return t.isoformat()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant the day begins in `zone` (zoneinfo's fold=0 reading when midnight falls in a DST gap)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def parse_instant(value: str | None, field: str, zone: ZoneInfo) -> datetime:
    if value is None or not value.strip():
        raise PeriodError(field, f"is required: {HINT}")
    text = _SPACE_FOR_PLUS.sub("+", value.strip())
    try:
        instant = _instant(text, value, field, zone)
    except OverflowError:
        instant = None
    first, last = supported_range(zone)
    if instant is None or not first <= instant <= last:
        raise PeriodError(
            field,
            f"{value!r} is outside the supported range {first.isoformat()} to {last.isoformat()} "
            f"(years 1 to 9999 in UTC and in the reporting time zone {zone.key})",
        )
    return instant


def _instant(text: str, value: str, field: str, zone: ZoneInfo) -> datetime:
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise PeriodError(field, f"{value!r} is not a calendar date") from None
        return local_midnight(day, zone)
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise PeriodError(field, f"{value!r} is neither a timestamp nor a date: {HINT}")
    if match["offset"] is None:
        raise PeriodError(field, f"{value!r} has no UTC offset; add one (Z or +09:00) or give a date")
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        raise PeriodError(field, f"{value!r} is not a valid date-time (a field is out of range)") from None
    return parsed.astimezone(UTC)


def parse_period(start: str | None, end: str | None, zone: ZoneInfo, max_days: int | None = None) -> Period:
    """Both parameters checked; all problems found are raised together as `PeriodErrors`."""
    errors: list[PeriodError] = []
    parsed: list[datetime | None] = []
    for field, value in (("from", start), ("to", end)):
        try:
            parsed.append(parse_instant(value, field, zone))
        except PeriodError as exc:
            errors.append(exc)
            parsed.append(None)
    begin, finish = parsed
    if begin is not None and finish is not None:
        if finish <= begin:
            errors.append(PeriodError("to", f"must be later than from ({begin.isoformat()}), got {finish.isoformat()}"))
        elif max_days is not None and finish - begin > timedelta(days=max_days):
            errors.append(PeriodError("to", f"the period may span at most {max_days} days"))
    if errors:
        raise PeriodErrors(errors)
    assert begin is not None and finish is not None
    return Period(begin, finish)


def horizon(period: Period, zone: ZoneInfo) -> Period:
    """The period after P, of P's length (the forecast's horizon); refused when it ends past the range."""
    _, last = supported_range(zone)
    if period.length > last - period.end:
        raise PeriodErrors(
            [
                PeriodError(
                    "to",
                    f"the forecast horizon [to, to + (to - from)) would end after {last.isoformat()}, the end of the "
                    "supported range: give an earlier `to` or a shorter period",
                )
            ]
        )
    return period.shifted(1)


def day_ends(period: Period, zone: ZoneInfo) -> list[tuple[date, datetime]]:
    """(local date, instant) per reporting day that P touches: the end of that day, the last one clipped to `to`."""
    first = period.start.astimezone(zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    days = []
    day = first
    while day <= last:
        days.append((day, min(local_midnight(day + timedelta(days=1), zone), period.end)))
        day += timedelta(days=1)
    return days
