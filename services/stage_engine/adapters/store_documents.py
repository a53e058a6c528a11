"""The rows a batch writes, as one JSON document per statement parameter (`store_statements.py` unpacks them
with jsonb_array_elements).

Why documents and not one array parameter per column: asyncpg encodes an array element by element and checks
each against `collections.abc` types (~0.3 µs per element on this machine, ~17 elements per envelope), while
one orjson call encodes all the rows, events and lead states included (orjson serializes the dataclasses
itself: datetimes as RFC 3339 with their offset, tuples as arrays, the same JSON as `event_codec.to_dict` and
`snapshot_codec.lead_to_dict`; the property tests compare them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from services.stage_engine.domain.events import DomainEvent
from services.stage_engine.domain.lead import Identity, Lead


def array_document(values: Iterable[str | Identity]) -> str:
    """`["a", "b", ...]`, or `[[kind, value], ...]` for identities."""
    return orjson.dumps(list(values)).decode()


def owners_document(owners: Mapping[Identity, str]) -> str:
    """`[[kind, value, lead_id], ...]`"""
    return orjson.dumps([(kind, value, lead) for (kind, value), lead in owners.items()]).decode()


def snapshots_document(leads: Iterable[Lead]) -> str:
    """`[[lead_id, version, state], ...]`; the state as `lead_to_dict` writes it."""
    return orjson.dumps([(lead.lead_id, lead.version, lead) for lead in leads], default=_sorted).decode()


def events_document(appended: Iterable[tuple[DomainEvent, int]]) -> str:
    """`[[version, type, event], ...]`; the event as `to_dict` writes it without its `type`, which the
    statement adds back."""
    return orjson.dumps([(version, type(event).__name__, event) for event, version in appended]).decode()


def _sorted(value: object) -> list[Any]:
    if isinstance(value, frozenset):  # a lead's identities and divisions: sorted, as lead_to_dict writes them
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not part of a lead snapshot")
