"""What a person did on the website and in the app, counted per lead: the activity the lead view shows.

Page views (`page_viewed`, property `path`) and screen views (`screen_viewed`, property `name`) are counted by
path or screen name and the campaign they came with (`campaign` or `utm_campaign`, `utm_source`, `utm_medium`
properties, else the `utm_*` parameters of the `url`): one counter per (path, campaign), so a view is one row
to write and the reader sums them by path or by campaign. Each counter keeps the first and last event time,
and is split by whether the lead was identified (it had an email hash or a CRM id) once the view was applied:
views of an anonymous visitor count "before", the rest "since".

Pure: `BatchApplier` tallies a batch's views per lead here; the adapter adds the tally to the stored counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from services.common.envelope import Event

PAGE, SCREEN = "page", "screen"
BEFORE, SINCE = "before", "since"
ACTIVITY_TYPES = frozenset({"page_viewed", "screen_viewed"})
NOT_ITEMISED = ""  # the key of views without a path or name, and of those past the stored keys' cap
NO_CAMPAIGN = ""  # the campaign key of views without a campaign (and of those past the cap)
MAX_KEY_CHARACTERS = 512  # a path is cut here: a btree row holds ~2,700 bytes, 4 per character at worst
MAX_CAMPAIGN_CHARACTERS = 128  # each of campaign, source and medium
_UTM = ("utm_campaign", "utm_source", "utm_medium")

Counter = list[Any]  # [views, first seen, last seen]
ActivityKey = tuple[str, str, str, str, str]  # (lead_id, kind, phase, key, campaign key)
TallyRow = tuple[str, str, str, str, str, int, datetime, datetime]  # ActivityKey + the counter


def touch(event: Event) -> tuple[str, str, str] | None:
    """(kind, key, campaign key) the view counts under: its page or screen and its campaign (NO_CAMPAIGN when it
    has none); None for an event that is not a view. One counter per (key, campaign): a view is one row to write."""
    props = event.properties
    if event.type == "page_viewed":
        kind, key = PAGE, _key(props.get("path"))
    elif event.type == "screen_viewed":
        kind, key = SCREEN, _key(props.get("name"))
    else:
        return None
    return kind, key, _campaign_key_of(props)


def _campaign_key_of(props: Mapping[str, Any]) -> str:
    """campaign_key(campaign_of(props)), remembered by the raw values: most views of a site repeat a few campaigns
    (this runs for every view)."""
    url = props.get("url")
    raw = (
        props.get("campaign"),
        props.get("utm_campaign"),
        props.get("utm_source"),
        props.get("utm_medium"),
        url if isinstance(url, str) and "utm_" in url else None,
    )
    if raw == _NOTHING:
        return NO_CAMPAIGN
    try:
        return _KEYS[raw]
    except KeyError:
        pass
    except TypeError:  # a value that is not hashable (an object): not remembered
        campaign = campaign_of(props)
        return NO_CAMPAIGN if campaign is None else campaign_key(campaign)
    if len(_KEYS) >= _KEYS_KEPT:
        _KEYS.clear()
    campaign = campaign_of(props)
    found = _KEYS[raw] = NO_CAMPAIGN if campaign is None else campaign_key(campaign)
    return found


_NOTHING = (None, None, None, None, None)
_KEYS: dict[tuple[Any, ...], str] = {}
_KEYS_KEPT = 4096


def campaign_of(props: Mapping[str, Any]) -> tuple[str | None, str | None, str | None] | None:
    """(campaign, source, medium); properties win over the url's utm_* parameters. None when none is known."""
    values = [_text(props.get(name)) for name in _UTM]
    if values[0] is None:
        values[0] = _text(props.get("campaign"))
    url = props.get("url")
    if None in values and isinstance(url, str) and "utm_" in url:
        query = _query(url)
        values = [value or _text(query.get(name, [None])[0]) for value, name in zip(values, _UTM, strict=True)]
    if values == [None, None, None]:
        return None
    return values[0], values[1], values[2]


def _query(url: str) -> dict[str, list[str]]:
    try:
        return parse_qs(urlsplit(url).query)
    except ValueError:  # not a URL urlsplit can read (a broken IPv6 host): no campaign from it
        return {}


def campaign_key(campaign: tuple[str | None, str | None, str | None]) -> str:
    """The stored key: the JSON array [campaign, source, medium] (nulls where unknown)."""
    return orjson.dumps(campaign).decode()


def campaign_from_key(key: str) -> tuple[str | None, str | None, str | None]:
    campaign, source, medium = orjson.loads(key)
    return campaign, source, medium


def _text(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _storable(value.strip()[:MAX_CAMPAIGN_CHARACTERS])


def _key(value: object) -> str:
    if not isinstance(value, str):
        return NOT_ITEMISED
    return _storable(value[:MAX_KEY_CHARACTERS])


def _storable(text: str) -> str:
    """Text PostgreSQL and orjson take: no NUL, no lone surrogate (either would set the whole event aside)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode(errors="replace").decode()
    return text


class ActivityTally:
    """A batch's views per (lead, kind, phase, key, campaign): how many, first and last event time."""

    def __init__(self) -> None:
        self.counters: dict[ActivityKey, Counter] = {}

    def add(self, lead_id: str, identified: bool, event: Event) -> None:
        found = touch(event)
        if found is None:
            return
        at, counted = event.occurred_at, (lead_id, found[0], SINCE if identified else BEFORE, found[1], found[2])
        counter = self.counters.get(counted)
        if counter is None:
            self.counters[counted] = [1, at, at]
        else:
            counter[0] += 1
            counter[1], counter[2] = min(counter[1], at), max(counter[2], at)

    def rows(self, survivors: Mapping[str, str]) -> list[TallyRow]:
        """The counters, a lead absorbed later in the batch counted on its final survivor (`survivors`)."""
        if not survivors:
            return [(*k, *c) for k, c in self.counters.items()]
        merged: dict[ActivityKey, Counter] = {}
        for (lead_id, *rest), (n, first, last) in self.counters.items():
            at = (survivors.get(lead_id, lead_id), rest[0], rest[1], rest[2], rest[3])
            if (held := merged.get(at)) is None:
                merged[at] = [n, first, last]
            else:
                merged[at] = [held[0] + n, min(held[1], first), max(held[2], last)]
        return [(*k, *c) for k, c in merged.items()]
