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

from services.common.lead_events.events import DomainEvent
from services.stage_engine.adapters.store_errors import UnstorableValue
from services.stage_engine.domain.activity import TallyRow
from services.stage_engine.domain.lead import Identity, Lead


def array_document(values: Iterable[str | Identity]) -> str:
    """`["a", "b", ...]`, or `[[kind, value], ...]` for identities."""
    return _dumps(list(values))


def owners_document(owners: Mapping[Identity, str]) -> str:
    """`[[kind, value, lead_id], ...]`"""
    return _dumps([(kind, value, lead) for (kind, value), lead in owners.items()])


def snapshots_document(leads: Iterable[Lead]) -> str:
    """`[[lead_id, version, state], ...]`; the state as `lead_to_dict` writes it."""
    return _dumps([(lead.lead_id, lead.version, lead) for lead in leads])


def events_document(appended: Iterable[tuple[DomainEvent, int]], cause_types: Mapping[str, str] | None = None) -> str:
    """`[[version, type, event, cause type], ...]`; the event as `to_dict` writes it without its `type`, which the
    statement adds back; the cause type (the envelope's type) from `cause_types` by the event's cause id."""
    causes = cause_types or {}
    return _dumps(
        [(version, type(event).__name__, event, causes.get(event.cause_event_id)) for event, version in appended]
    )


def activity_document(rows: Iterable[TallyRow]) -> str:
    """`[[lead_id, kind, phase, key, campaign, views, first_seen, last_seen], ...]`"""
    return _dumps(list(rows))


def _dumps(rows: list[Any]) -> str:
    """A value orjson refuses (an integer beyond 64 bits in a property) is the event's fault, not the moment's."""
    try:
        return orjson.dumps(rows, default=_sorted).decode()
    except TypeError as exc:
        raise UnstorableValue(str(exc)) from exc


def _sorted(value: object) -> list[Any]:
    if isinstance(value, frozenset):  # a lead's identities and divisions: sorted, as lead_to_dict writes them
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not part of a lead snapshot")
