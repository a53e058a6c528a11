"""Dimensions: the axes the KPIs are sliced by (source, campaign, segment, owner, account), declared in the model.

A dimension names where a lead's value comes from and which observation wins:

- `first_touch: key` / `last_touch: key`: a property of any event (or of the types in `on:`); a `utm_*` key is
  also read from the query string of the event's `url` property when the property itself is absent;
- `form: key`: a property of the identifying events (form_submitted, identified), first one wins;
- `trait: key`: `properties.traits.<key>` (Segment identify and group calls), the latest wins;
- `owner`: the latest `owner` carried by lead_accepted, meeting_scheduled or meeting_held;
- `account`: the latest envelope `account_id` (Segment `group` sets it).

"first" keeps the observation with the earliest event time, "last" the one with the latest (a tie keeps the
later arrival); a merge of two leads applies the same rule to their two observations (a tie keeps the
survivor's). `bands` turns a number into a named band (lower bounds, ascending). Values are strings, stripped,
at most `MAX_VALUE_LENGTH` characters; an empty or unusable value is no observation. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from services.common.envelope import Event

Touch = Literal["first", "last"]
Kind = Literal["first_touch", "last_touch", "form", "trait", "owner", "account"]
KINDS: tuple[Kind, ...] = ("first_touch", "last_touch", "form", "trait", "owner", "account")
IDENTIFYING_TYPES = frozenset({"form_submitted", "identified"})
OWNER_TYPES = frozenset({"lead_accepted", "meeting_scheduled", "meeting_held"})
# Kinds whose values name a person or a company: never a Prometheus label (the JSON API only).
IDENTIFYING_KINDS = frozenset({"owner", "account"})
MAX_VALUE_LENGTH = 200
_UTM = "utm_"


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    kind: Kind
    key: str  # the property or trait key; "" for owner and account
    on: frozenset[str] | None = None  # event types observed; None: any
    bands: tuple[tuple[str, Decimal], ...] = ()  # (band, lower bound) ascending; () keeps the value as it is
    max_values: int | None = None  # bounded: at most this many label values (the rest "other"); None: JSON only

    @property
    def touch(self) -> Touch:
        return "first" if self.kind in ("first_touch", "form") else "last"

    @property
    def bounded(self) -> bool:
        return self.max_values is not None

    def observe(self, event: Event) -> str | None:
        """The value `event` shows for this dimension, or None when it shows none (runs for most events)."""
        if self.on is not None and event.type not in self.on:
            return None
        kind = self.kind
        if kind == "first_touch" or kind == "last_touch" or kind == "form":
            raw: Any = event.properties.get(self.key)
            if raw is None and self.key.startswith(_UTM):
                raw = _utm_from_url(event.properties, self.key)
        elif kind == "account":
            raw = event.account_id
        elif kind == "owner":
            raw = event.properties.get("owner")
        else:
            traits = event.properties.get("traits")
            raw = traits.get(self.key) if isinstance(traits, Mapping) else None
        if raw is None:
            return None
        if type(raw) is str and not self.bands:
            value = raw.strip()[:MAX_VALUE_LENGTH]
            return value or None
        return self.value_of(raw)

    def value_of(self, raw: Any) -> str | None:
        if self.bands:
            return _band(self.bands, raw)
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, int | Decimal):
            raw = str(raw)
        if not isinstance(raw, str):
            return None  # objects, lists, floats (a float is not an exact value to slice by)
        value = raw.strip()[:MAX_VALUE_LENGTH]
        return value or None


def observed_types(kind: Kind, on: frozenset[str] | None) -> frozenset[str] | None:
    """The event types a dimension of `kind` observes (None: any)."""
    if kind == "form":
        return IDENTIFYING_TYPES if on is None else on & IDENTIFYING_TYPES
    if kind == "owner":
        return OWNER_TYPES if on is None else on & OWNER_TYPES
    return on


def wins(touch: Touch, challenger_at: str, held_at: str | None) -> bool:
    """Whether an observation at `challenger_at` replaces one held since `held_at` (UTC RFC 3339 texts, which
    compare as times); a tie goes to the challenger for "last" (the later arrival)."""
    if held_at is None:
        return True
    return challenger_at < held_at if touch == "first" else challenger_at >= held_at


def _utm_from_url(properties: Mapping[str, Any], key: str) -> Any:
    url = properties.get("url")
    if isinstance(url, str) and key + "=" in url:  # parse only when it can be there: page views are the hot path
        found = parse_qs(urlsplit(url).query).get(key)
        return found[0] if found else None
    return None


def _band(bands: tuple[tuple[str, Decimal], ...], raw: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    found = None
    for name, lower in bands:
        if number >= lower:
            found = name
    return found
