"""THE MODEL's dimensions as docs/stage-model.md "Dimensions" describes them, written out again for the test (not
imported from services.*), and a record cut down to one slice: the leads whose person holds the value.

source: the first `utm_source` (a property, else the `url`'s query); campaign: the first `campaign`; segment:
the latest `traits.employees` as a band (smb from 0, mid_market from 100, enterprise from 1000); owner: the
latest `owner` of lead_accepted, meeting_scheduled, meeting_held; account: the latest envelope account_id.
"First" keeps the earliest by event time, "last" the latest (a tie: the later arrival); a different value only
replaces the held one by that rule, the same value changes nothing. A merge keeps per dimension the value set
earliest ("first") or latest ("last") of the two, the survivor's on a tie.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.common.envelope import Event

NAMES = ("source", "campaign", "segment", "owner", "account")
FIRST = {"source", "campaign"}
OWNER_TYPES = {"lead_accepted", "meeting_scheduled", "meeting_held"}
BANDS = [(Decimal(1000), "enterprise"), (Decimal(100), "mid_market"), (Decimal(0), "smb")]
Held = dict[str, tuple[str, datetime]]


def _text(raw: Any) -> str | None:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    return raw.strip()[:200] or None


def _band(raw: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return next((name for low, name in BANDS if number.is_finite() and number >= low), None)


def shown(event: Event) -> dict[str, str]:
    props = event.properties
    raw_source = props.get("utm_source")
    url = props.get("url")
    if raw_source is None and isinstance(url, str):
        raw_source = (parse_qs(urlsplit(url).query).get("utm_source") or [None])[0]
    traits = props.get("traits")
    found = {
        "source": _text(raw_source),
        "campaign": _text(props.get("campaign")),
        "segment": _band(traits.get("employees")) if isinstance(traits, dict) else None,
        "owner": _text(props.get("owner")) if event.type in OWNER_TYPES else None,
        "account": _text(event.account_id),
    }
    return {name: value for name, value in found.items() if value is not None}


def observe(held: Held, event: Event) -> None:
    at = event.occurred_at
    for name, value in shown(event).items():
        current = held.get(name)
        if current is None:
            held[name] = (value, at)
        elif current[0] != value and (at < current[1] if name in FIRST else at >= current[1]):
            held[name] = (value, at)


def merged(survivor: Held, absorbed: Held) -> Held:
    kept = dict(survivor)
    for name, (value, at) in absorbed.items():
        mine = kept.get(name)
        if mine is None or (at < mine[1] if name in FIRST else at > mine[1]):
            kept[name] = (value, at)
    return kept
