"""Domain events <-> JSON-ready dicts: `{"type": "StageChanged", ...fields}`.

Datetimes become RFC 3339 strings with their offset, tuples become lists; `from_dict(to_dict(e)) == e`.
Unknown keys are refused rather than dropped, so a newer writer is noticed instead of silently mis-read.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from typing import Any

from services.common.lead_events.events import EVENT_CLASSES, DomainEvent


class CodecError(ValueError):
    pass


def _field_kinds(cls: type) -> dict[str, str]:
    hints = typing.get_type_hints(cls)
    kinds: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        text = str(hints[f.name])
        kinds[f.name] = "datetime" if "datetime" in text else ("tuple" if "tuple" in text else "plain")
    return kinds


_KINDS: dict[str, dict[str, str]] = {name: _field_kinds(cls) for name, cls in EVENT_CLASSES.items()}


def to_dict(event: DomainEvent) -> dict[str, Any]:
    name = type(event).__name__
    out: dict[str, Any] = {"type": name}
    for field, kind in _KINDS[name].items():
        value = getattr(event, field)
        if kind == "datetime" and value is not None:
            value = value.isoformat()
        elif kind == "tuple":
            value = _lists(value)
        out[field] = value
    return out


def from_dict(data: dict[str, Any]) -> DomainEvent:
    name = data.get("type")
    cls = EVENT_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown domain event type {name!r}")
    kinds = _KINDS[cls.__name__]
    unknown = set(data) - set(kinds) - {"type"}
    if unknown:
        raise CodecError(f"{name}: unknown fields {sorted(unknown)}")
    values: dict[str, Any] = {}
    for field, kind in kinds.items():
        if field not in data:
            continue  # a field with a default; a required one missing fails in the constructor below
        value = data[field]
        if kind == "datetime" and value is not None:
            value = datetime.fromisoformat(value)
        elif kind == "tuple":
            value = _tuples(value)
        values[field] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise CodecError(f"{name}: {exc}") from exc


def _lists(value: Any) -> Any:
    return [_lists(item) for item in value] if isinstance(value, tuple) else value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value
