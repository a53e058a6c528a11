"""Which properties of an event are personal, taking them out to be sealed, and putting them back.

A key is personal when `stage_model.personal_fields.is_personal` says so (built-in names, or the keys a
deployment marks); a string value that is an email address is personal under any key. Nested objects (a
Segment call's `traits`) are searched too. What is taken out is listed by path (the names are no personal data),
so a reader whose key is gone still shows each field, as `ERASED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from services.common.stage_model.personal_fields import is_personal

ERASED = "erased"
Path = tuple[str, ...]
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# Top-level keys that name a thing, not a person, on some types: a screen's name, a tracked event's name.
NOT_PERSONAL: dict[str, frozenset[str]] = {"screen_viewed": frozenset({"name"}), "tracked": frozenset({"name"})}


def split_personal(
    properties: Mapping[str, Any], marked: Iterable[str] = (), event_type: str = ""
) -> tuple[dict[str, Any], list[tuple[Path, Any]]]:
    """(the properties without their personal fields, the personal fields by path)."""
    found: list[tuple[Path, Any]] = []
    kept = _split(properties, (), tuple(marked), found, NOT_PERSONAL.get(event_type, frozenset()))
    return kept, found


def _split(
    data: Mapping[str, Any],
    at: Path,
    marked: tuple[str, ...],
    found: list[tuple[Path, Any]],
    exempt: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in data.items():
        path = (*at, key)
        if value is None or key in exempt:
            kept[key] = value
        elif is_personal(key, marked) or (isinstance(value, str) and "@" in value and _EMAIL.fullmatch(value.strip())):
            found.append((path, value))
        elif isinstance(value, Mapping):
            kept[key] = _split(value, path, marked, found)
        else:
            kept[key] = value
    return kept


def merge_personal(properties: Mapping[str, Any], fields: Iterable[tuple[Path, Any]]) -> dict[str, Any]:
    """`properties` with each field put back at its path (a copy; nested objects are copied on the way)."""
    merged = _copy(properties)
    for path, value in fields:
        here = merged
        for key in path[:-1]:
            nested = here.get(key)
            here[key] = _copy(nested) if isinstance(nested, Mapping) else {}
            here = here[key]
        here[path[-1]] = value
    return merged


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_copy(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
