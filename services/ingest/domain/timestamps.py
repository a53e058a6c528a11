"""RFC 3339 timestamps: the only form `occurred_at` (and other date-time fields) may take.

RFC 3339 section 5.6 with a mandatory offset ("Z" or "+09:00"); lower-case "t"/"z" and a space instead of
"T" (which the RFC's note allows and Python's `str(datetime)` writes) are accepted. A timestamp without an
offset is *naive*: it could be in any of the world's offsets, so it is refused rather than guessed.

`occurred_at` must also be storable and plausible: `time_window.TimeWindow` judges that.
"""

from __future__ import annotations

import re
from datetime import datetime

_DATE_TIME = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?"
_OFFSET = r"(?:[Zz]|[+-]\d{2}:\d{2})"
_RFC3339 = re.compile(f"{_DATE_TIME}(?P<offset>{_OFFSET})?", re.ASCII)
# The offset required, and no group: the check every timestamp goes through.
_RFC3339_WITH_OFFSET = re.compile(_DATE_TIME + _OFFSET, re.ASCII)


def parse_rfc3339(value: str) -> datetime | None:
    """The aware datetime `value` denotes, or None when it is not an RFC 3339 date-time with an offset.

    Fractions finer than a microsecond are truncated (Python's resolution). Not cached: events' timestamps are
    nearly all distinct (milliseconds), so a cache only added its upkeep to every parse.
    """
    if _RFC3339_WITH_OFFSET.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:  # Python reads "T" and "Z" in upper case only
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
