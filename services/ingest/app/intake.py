"""The ingest's one use case: validate a batch, publish what is valid, count every outcome."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from services.common.envelope import EVENT_TYPES, Event
from services.ingest.adapters.deliveries import DeliveryLedger
from services.ingest.adapters.publisher import BrokerUnavailable, KafkaPublisher
from services.ingest.app.sealer import Sealer
from services.ingest.domain.validation import EventValidator

# BrokerUnavailable is what `accept` raises: routes catch it from here, never from the adapter
__all__ = ["BrokerUnavailable", "Intake", "IntakeResult"]


@dataclass(frozen=True)
class IntakeResult:
    accepted: int
    errors: list[dict[str, Any]]
    duplicates: int = 0  # valid events a connector had already delivered: acknowledged, not published again


class Intake:
    def __init__(
        self,
        validator: EventValidator,
        publisher: KafkaPublisher,
        registry: CollectorRegistry,
        sealer: Sealer | None = None,
    ) -> None:
        self._validator = validator
        self._publisher = publisher
        self._sealer = sealer  # None: events are published as validated (tests of the ingest alone)
        self._events = Counter(
            "stagetrack_ingest_events",
            "Events received, by source, type and outcome (accepted, invalid, unavailable, duplicate)",
            ["source", "type", "outcome"],
            registry=registry,
        )

    async def accept(self, items: Sequence[object], source: str, received_at: datetime | None = None) -> IntakeResult:
        """Raises BrokerUnavailable when Kafka did not acknowledge: then none of the batch counts as accepted.
        `received_at` (default: now) is the time the route read the request, when it already used it."""
        events, errors = self._validate(items, source, received_at)
        await self._publish(source, events)
        self._count(source, "accepted", (e.type for e in events))
        return IntakeResult(len(events), errors)

    async def accept_once(self, items: Sequence[object], source: str, ledger: DeliveryLedger) -> IntakeResult:
        """Like `accept`, for a CRM that redelivers with the same event ids: an id already in Kafka is skipped."""
        valid, errors = self._validate(items, source)
        async with ledger.claim(source, (e.event_id for e in valid)) as new_ids:
            events = list({e.event_id: e for e in valid if e.event_id in new_ids}.values())  # one copy per id
            await self._publish(source, events)
        self._count(source, "accepted", (e.type for e in events))
        repeated = collections.Counter(e.type for e in valid) - collections.Counter(e.type for e in events)
        self._count(source, "duplicate", repeated.elements())
        return IntakeResult(len(events), errors, len(valid) - len(events))

    def _validate(
        self, items: Sequence[object], source: str, received_at: datetime | None = None
    ) -> tuple[list[Event], list[dict[str, Any]]]:
        result = self._validator.validate_batch(items, source=source, received_at=received_at or datetime.now(UTC))
        self._count(source, "invalid", (_type_label(items[i]) for i in {e.index for e in result.errors}))
        return [event for _, event in result.accepted], [e.as_dict() for e in result.errors]

    async def _publish(self, source: str, events: list[Event]) -> None:
        if self._sealer is not None:
            events = await self._sealer.seal(events)
        try:
            await self._publisher.publish(events)
        except BrokerUnavailable:
            self._count(source, "unavailable", (e.type for e in events))
            raise

    def _count(self, source: str, outcome: str, types: Iterable[str]) -> None:
        for kind, n in collections.Counter(types).items():
            self._events.labels(source, kind, outcome).inc(n)


def _type_label(item: object) -> str:
    """Only known type names become label values; anything else is 'unknown' (labels stay bounded)."""
    kind = item.get("type") if isinstance(item, Mapping) else None
    return kind if isinstance(kind, str) and kind in EVENT_TYPES else "unknown"
