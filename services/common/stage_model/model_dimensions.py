"""The model's `dimensions:` section: its checks (after the JSON Schema) and its compiled form.

Refused, each at the offending line: a name used twice or reserved by the KPI API's query parameters; an event
type the envelope does not know in `on:`; `on:` that leaves a form or owner dimension nothing to observe; a key
that names personal data (built-in names or the model's `personal:` list); bands not ascending; `bands` on
owner or account; `max_values` (a Prometheus label) on owner or account, which name a person or a company.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from services.common.envelope import EVENT_TYPES
from services.common.stage_model.dimensions import IDENTIFYING_KINDS, Dimension, Kind, observed_types
from services.common.stage_model.model_types import ModelIssue
from services.common.stage_model.personal_fields import is_personal

# Query parameters of the KPI routes: a dimension of the same name could not be filtered by.
RESERVED_NAMES = frozenset({"from", "to", "by", "trailing", "stage", "value", "all", "dimension"})
_KNOWN_EVENTS = frozenset(EVENT_TYPES)


def check_dimensions(data: Mapping[str, Any]) -> None:
    marked = data.get("personal", [])
    seen: set[str] = set()
    for i, spec in enumerate(data.get("dimensions", [])):
        at: tuple[str | int, ...] = ("dimensions", i)
        name = spec["name"]
        if name in seen:
            raise ModelIssue((*at, "name"), f"dimension {name!r} is declared twice")
        if name in RESERVED_NAMES:
            reserved = ", ".join(sorted(RESERVED_NAMES))
            raise ModelIssue((*at, "name"), f"dimension name {name!r} is reserved (reserved: {reserved})")
        seen.add(name)
        kind, key = source_of(spec["from"])
        if key is not None and is_personal(key, marked):
            raise ModelIssue(
                (*at, "from", kind), f"dimension {name!r} would be drawn from {key!r}, a field marked personal"
            )
        on = spec.get("on", "*")
        names = [] if on == "*" else ([on] if isinstance(on, str) else on)
        for j, event_type in enumerate(names):
            if event_type not in _KNOWN_EVENTS:
                path = (*at, "on") if isinstance(on, str) else (*at, "on", j)
                raise ModelIssue(path, f"unknown event type {event_type!r}")
        if names and observed_types(kind, frozenset(names)) == frozenset():
            raise ModelIssue((*at, "on"), f"a {kind} dimension observes none of these event types")
        if kind in IDENTIFYING_KINDS and "max_values" in spec:
            raise ModelIssue(
                (*at, "max_values"),
                f"dimension {name!r} names a person or a company ({kind}): it stays in the JSON API, never a "
                "Prometheus label",
            )
        if kind in IDENTIFYING_KINDS and "bands" in spec:
            raise ModelIssue((*at, "bands"), f"bands are for numbers, not for {kind}")
        bounds = list(spec.get("bands", {}).values())
        if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
            raise ModelIssue((*at, "bands"), "band lower bounds must be ascending")


def source_of(spec: str | Mapping[str, str]) -> tuple[Kind, str | None]:
    if isinstance(spec, str):
        return cast(Kind, spec), None
    ((kind, key),) = spec.items()
    return cast(Kind, kind), key


def compile_dimensions(data: Mapping[str, Any]) -> tuple[Dimension, ...]:
    found = []
    for spec in data.get("dimensions", []):
        kind, key = source_of(spec["from"])
        on = spec.get("on", "*")
        listed = None if on == "*" else frozenset([on] if isinstance(on, str) else on)
        bands = tuple((band, Decimal(str(lower))) for band, lower in spec.get("bands", {}).items())
        found.append(
            Dimension(spec["name"], kind, key or "", observed_types(kind, listed), bands, spec.get("max_values"))
        )
    return tuple(found)


def dimensions_by_event(dimensions: tuple[Dimension, ...]) -> dict[str, tuple[Dimension, ...]]:
    """Event type -> the dimensions it may show a value for (precomputed for decide)."""
    return {et: tuple(d for d in dimensions if d.on is None or et in d.on) for et in EVENT_TYPES}
