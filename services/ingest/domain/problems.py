"""A problem found in one event: the field it concerns and the reason, in plain words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Problem(NamedTuple):
    field: str  # "occurred_at", "properties.traits.email", "properties.items[0].email"; "" = the whole item
    reason: str


def field_path(parts: Iterable[str | int]) -> str:
    """Joins keys and list indexes: ("properties", "items", 0, "email") -> "properties.items[0].email"."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path
