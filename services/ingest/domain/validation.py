"""Validation of incoming events: the schemas, the personal-data guard and what the stores hold, then money
and the event's size.

Each item of a batch is judged on its own: one bad item never stops the others, and every problem of a bad
item is reported (all its schema errors, each as its own `ItemError`). The personal-data guard and the
storable checks (`storable.check_storable`: occurred_at's offset and window, NUL in properties) also run on
an item that broke the schema, so the client learns everything at once; money is only normalized, and the
encoded size only measured, once the rest passed. `properties` may nest objects and arrays at most
MAX_DEPTH levels deep.

Duplicate event_ids, within a batch or across batches, are accepted silently: event_id is the client's
idempotency key, the same id is the same event (a retry), and the stage engine stores it once. The ingest
therefore never refuses a retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.common.envelope import Event
from services.ingest.domain.money import MoneyPolicy
from services.ingest.domain.personal_data import PersonalDataGuard
from services.ingest.domain.problems import Problem
from services.ingest.domain.schema_errors import schema_problems
from services.ingest.domain.schemas import Validators
from services.ingest.domain.storable import check_storable, properties_json, size_problem
from services.ingest.domain.time_window import TimeWindow

MAX_DEPTH = 32  # nesting of objects/arrays in properties (the Kafka encoder, orjson, stops at 254)
DEFAULT_MAX_EVENT_BYTES = 512 * 1024  # the encoded event; IngestSettings.max_event_bytes explains the default
_CONTAINERS = (dict, list)  # a tuple: `dict | list` in isinstance() builds a union object on every call


@dataclass(frozen=True)
class ItemError:
    """Why one item of a batch was refused. `field` is a path like "properties.email" ("" = the whole item)."""

    index: int
    event_id: str | None
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "event_id": self.event_id, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class ValidationResult:
    accepted: list[tuple[int, Event]]  # (index in the batch, event), in batch order
    errors: list[ItemError]  # in batch order; several per refused item when it has several problems


class EventValidator:
    """Judges envelope dicts against the schemas, the personal-data guard and the money rules.

    Build it once at start-up (`load_validators` compiles the schemas); `validate_batch` is then pure CPU.
    """

    def __init__(
        self,
        validators: Validators,
        *,
        reporting_currency: str = "JPY",
        rates: Mapping[str, Decimal] | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        personal_keys: Iterable[str] = (),
    ) -> None:
        self._validators = validators
        self._personal_data = PersonalDataGuard(personal_keys)  # the built-in personal key names and these
        self._max_event_bytes = max_event_bytes
        self._money = MoneyPolicy(reporting_currency, rates)
        self._money_types = validators.money_types

    @property
    def reporting_currency(self) -> str:
        return self._money.reporting_currency

    def validate_batch(self, items: Sequence[object], *, source: str, received_at: datetime) -> ValidationResult:
        """Accepted items become `Event`s stamped with `source` and `received_at` (aware, UTC)."""
        if received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        accepted: list[tuple[int, Event]] = []
        errors: list[ItemError] = []
        window = TimeWindow(received_at)
        for index, item in enumerate(items):
            outcome = self._judge(item, source, received_at, window)
            if isinstance(outcome, Event):
                accepted.append((index, outcome))
            else:
                event_id = item.get("event_id") if isinstance(item, dict) else None
                known_id = event_id if isinstance(event_id, str) else None
                errors.extend(ItemError(index, known_id, p.field, p.reason) for p in outcome)
        return ValidationResult(accepted=accepted, errors=errors)

    def _judge(self, item: object, source: str, received_at: datetime, window: TimeWindow) -> Event | list[Problem]:
        if not isinstance(item, dict):
            return [Problem("", "must be a JSON object (one event)")]
        return self._judge_object(item, source, received_at, window)

    def _judge_object(
        self, item: dict[str, Any], source: str, received_at: datetime, window: TimeWindow
    ) -> Event | list[Problem]:
        event_type, properties = item.get("type"), item.get("properties", {})
        # orjson writes properties once, in C, for the storable checks and the size; it stops at 254 levels
        # (None then), and its brackets bound the nesting, so the walk below runs only for deep objects.
        encoded = properties_json(properties) if isinstance(properties, dict) else None
        if (encoded is None or not _shallow(encoded, MAX_DEPTH)) and _deeper_than(properties, MAX_DEPTH):
            return [Problem("properties", f"is nested more than {MAX_DEPTH} levels deep")]
        envelope = self._validators.envelope
        problems = [] if envelope.is_valid(item) else schema_problems(envelope.validator.iter_errors(item))
        type_schema = self._validators.by_type.get(event_type) if isinstance(event_type, str) else None
        if type_schema is not None and isinstance(properties, dict) and not type_schema.is_valid(properties):
            problems += schema_problems(type_schema.validator.iter_errors(properties), ("properties",))
        problems += self._personal_data.problems(event_type, item.get("lead_id"), item.get("anonymous_id"), properties)
        occurred_at, properties_bytes, storable_problems = check_storable(
            item.get("occurred_at"), properties, encoded, window
        )
        problems += storable_problems
        if problems:
            return problems
        assert occurred_at is not None, "the schema's date-time format guarantees it"
        if event_type in self._money_types:
            properties, problems = self._money.normalize(properties)
            if problems:
                return problems
        else:
            properties = dict(properties)
        event = Event(
            event_id=item["event_id"],
            type=str(event_type),
            occurred_at=occurred_at,
            source=source,
            received_at=received_at,
            anonymous_id=item.get("anonymous_id"),
            lead_id=item.get("lead_id"),
            account_id=item.get("account_id"),
            properties=properties,
        )
        too_large = size_problem(event, properties_bytes, self._max_event_bytes)
        return event if too_large is None else [too_large]


def _shallow(encoded: bytes, limit: int) -> bool:
    """Whether JSON text nests at most `limit` levels, told by its brackets: each level opens one, and one in a
    string only adds to the count (two C scans; False means "maybe deeper", not "deeper")."""
    return encoded.count(b"{") + encoded.count(b"[") <= limit


def _deeper_than(value: object, limit: int) -> bool:
    """Whether objects/arrays nest more than `limit` levels (iterative: no recursion on hostile input)."""
    if isinstance(value, dict) and _flat(value):
        return limit < 1  # the common case: a flat object is one level deep
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return False


def _flat(obj: dict[str, Any]) -> bool:
    for child in obj.values():  # a plain loop: cheaper than any() over a generator for a handful of values
        if isinstance(child, _CONTAINERS):
            return False
    return True
