"""The personal-data guard: anonymous tracking events carry no personal data (PRODUCT.md, early stage).

The rule, as users read it in docs/ingest-validation.md:

- It applies to events **without lead_id** (anonymous tracking: only the tracker's anonymous_id), except
  `form_submitted` and `identified`: those are the identification step itself, so they may carry an email,
  a name or a phone number even before a lead_id exists. Events with a lead_id are not checked (the person
  is known and the CRM is the one sending).
- Refused are, anywhere in `properties` (nested objects and arrays too):
  - a key that names personal data (`personal_keys`: English and Japanese, camelCase, snake_case, dotted,
    full-width, plus the operator's STAGETRACK_PERSONAL_KEYS) when it holds a value: null, "", true/false and
    empty objects/arrays carry nothing. The top-level `name` of a `tracked` event is the event's name (of a
    `screen_viewed` the screen's), and
    the `name` of an object under a thing's key (`product`, `items`, `company`: `names_a_thing`) the thing's;
  - an email address or a phone number in a value or a key, in any spelling `personal_values` undoes
    (percent-encoding, HTML references, full-width characters, `[at]`), also inside URLs.
- An `anonymous_id` holding an email address or a phone number is refused too.

A name written as free text (`"title": "Hanako Yamada"`) is not refused: no rule tells it from a page title
without refusing ordinary titles (docs/ingest-validation.md says what catches it instead).

Every offending field is reported with its path (`properties.referrer`, `properties.form.email`); the
reason never repeats the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from services.ingest.domain.personal_keys import PersonalKeys, names_a_thing
from services.ingest.domain.personal_values import (
    PHONE_CHECKS_PER_EVENT,
    PhoneBudget,
    PhoneBudgetSpent,
    needs_a_look,
    value_kind,
    warm_up,
)
from services.ingest.domain.problems import Problem, field_path

IDENTIFYING_TYPES = frozenset({"form_submitted", "identified"})
_OWN_NAME = frozenset({"name"})  # a tracked event's top-level `name` is the event's; a product's is the product's
_NAMED_TYPES = frozenset({"tracked", "screen_viewed"})  # whose top-level `name` names the event or the screen
_NOTHING: frozenset[str] = frozenset()
_CONTAINERS = (dict, list, Mapping)  # a tuple: `a | b` in isinstance() builds a union object on every call
_KEY_CACHE_SIZE = 8192  # distinct keys remembered; past it a key is classified again each time (~3 µs)
_NOT_SEEN, _LOOK = object(), object()
_TOO_MANY_PHONES = (
    f"has a run of digits shaped like a phone number, past the {PHONE_CHECKS_PER_EVENT} such values checked "
    "per anonymous tracking event; send fewer number-like values on one anonymous event"
)


def reason(kind: str) -> str:
    return (
        f"personal data ({kind}) is not accepted on anonymous tracking events (no lead_id); "
        "identify the visitor with form_submitted or identified first"
    )


class PersonalDataGuard:
    """Finds the personal data an anonymous tracking event carries. Build it once (it caches key kinds)."""

    def __init__(self, listed_keys: Iterable[str] = ()) -> None:
        self._keys = PersonalKeys(listed_keys)
        self._key_kinds: dict[str, object] = {}  # key -> its kind, _LOOK or None
        warm_up()

    def problems(self, event_type: object, lead_id: object, anonymous_id: object, properties: object) -> list[Problem]:
        """One Problem per offending field ([] when the event is allowed)."""
        if (isinstance(event_type, str) and event_type in IDENTIFYING_TYPES) or (isinstance(lead_id, str) and lead_id):
            return []
        scan = _Scan()
        if isinstance(anonymous_id, str) and needs_a_look(anonymous_id):
            scan.look_at(anonymous_id, ("anonymous_id",))
        if isinstance(properties, dict) or isinstance(properties, Mapping):  # the ABC check is the slow one
            named = isinstance(event_type, str) and event_type in _NAMED_TYPES  # a list as type is unhashable
            self._walk_object(properties, ("properties",), _OWN_NAME if named else _NOTHING, scan)
        return scan.problems

    def _key_kind(self, key: str) -> object:
        """The kind of personal data `key` names, _LOOK when it needs a look as a value, else None."""
        kind: object = self._keys.kind(key)
        if kind is None and needs_a_look(key):
            kind = _LOOK  # searched on every use: a phone-number search spends the event's budget
        if len(self._key_kinds) < _KEY_CACHE_SIZE:
            self._key_kinds[key] = kind
        return kind

    def _walk_object(
        self, obj: Mapping[Any, Any], path: tuple[str | int, ...], allowed: frozenset[str], scan: _Scan
    ) -> None:
        # The hot path of anonymous tracking: most keys are known ordinary ones and most values short strings
        # that `needs_a_look` lets pass, so a path is only built for a finding or a nested value.
        kinds = self._key_kinds
        for key, value in obj.items():
            if isinstance(key, str) and key not in allowed:
                kind = kinds.get(key, _NOT_SEEN)
                if kind is _NOT_SEEN:
                    kind = self._key_kind(key)
                if kind is not None:
                    if kind is _LOOK:
                        if scan.look_at(key, (*path, key)):
                            continue
                    elif _carries_something(value):
                        scan.problems.append(Problem(field_path((*path, key)), reason(str(kind))))
                        continue
            if isinstance(value, str):
                # needs_a_look(value), inline: the call itself would cost a fifth of the check
                if (
                    "@" in value
                    or "%" in value
                    or "&" in value
                    or "0" in value
                    or "+" in value
                    or "]" in value
                    or ")" in value
                    or "\\" in value
                    or not value.isascii()
                ):
                    scan.look_at(value, (*path, key))
            elif isinstance(value, _CONTAINERS):
                below = _OWN_NAME if isinstance(key, str) and _names_a_thing(key) else _NOTHING
                self._walk_value(value, (*path, key), below, scan)

    def _walk_value(self, value: Any, path: tuple[str | int, ...], allowed: frozenset[str], scan: _Scan) -> None:
        if isinstance(value, str):
            if needs_a_look(value):
                scan.look_at(value, path)
        elif isinstance(value, Mapping):
            self._walk_object(value, path, allowed, scan)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._walk_value(item, (*path, index), allowed, scan)


class _Scan(PhoneBudget):
    """What one event's scan found so far, and the phone-number parses it may still spend."""

    __slots__ = ("problems",)

    def __init__(self) -> None:
        self.phone_checks_left = PHONE_CHECKS_PER_EVENT  # as PhoneBudget.__init__ does, without a second call
        self.problems: list[Problem] = []

    def look_at(self, text: str, path: tuple[str | int, ...]) -> bool:
        """Searches `text` (a value or a key flagged by `needs_a_look`); True when it was reported."""
        try:
            kind = value_kind(text, self)
        except PhoneBudgetSpent:
            self.problems.append(Problem(field_path(path), _TOO_MANY_PHONES))
            return True
        if kind is None:
            return False
        self.problems.append(Problem(field_path(path), reason(kind)))
        return True


@lru_cache(maxsize=1024)
def _names_a_thing(key: str) -> bool:
    return names_a_thing(key)


def _carries_something(value: object) -> bool:
    """null, "", true/false, {} and [] name no one: a personal key holding them is accepted."""
    return value not in (None, "") and value is not True and value is not False and value != {} and value != []
