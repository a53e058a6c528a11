"""Test helpers: envelopes with defaults, and a one-lead driver that decides and evolves as the engine does."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.envelope import Event
from services.common.lead_events.events import DomainEvent, StageChanged
from services.common.stage_model.model import StageModel, default_model
from services.stage_engine.domain.decide import decide
from services.stage_engine.domain.evolve import evolve
from services.stage_engine.domain.lead import Lead

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
Step = str | tuple[str, Mapping[str, Any]]  # an event type, or (type, properties)
_ids = itertools.count()


def event(
    type: str,
    properties: Mapping[str, Any] | None = None,
    *,
    hours: float = 0,
    anonymous_id: str | None = None,
    lead_id: str | None = "crm-1",
    event_id: str | None = None,
    account_id: str | None = None,
) -> Event:
    return Event(
        event_id=event_id or f"ev-{next(_ids)}",
        type=type,
        occurred_at=T0 + timedelta(hours=hours),
        source="test",
        received_at=T0,
        anonymous_id=anonymous_id,
        lead_id=lead_id,
        account_id=account_id,
        properties=dict(properties or {}),
    )


class Driver:
    """Feeds events to one lead: decide, then evolve with what was decided (like the engine)."""

    def __init__(self, model: StageModel | None = None) -> None:
        self.model = model or default_model()
        self.lead: Lead | None = None
        self.history: list[DomainEvent] = []

    def send(self, type: str, properties: Mapping[str, Any] | None = None, **kw: Any) -> list[DomainEvent]:
        return self.apply(event(type, properties, **kw))

    def step(self, step: Step, **kw: Any) -> list[DomainEvent]:
        kind, properties = (step, None) if isinstance(step, str) else step
        return self.send(kind, properties, **kw)

    def apply(self, ev: Event) -> list[DomainEvent]:
        out = decide(self.lead, ev, self.model)
        for domain_event in out:
            self.lead = evolve(self.lead, domain_event)
        self.history.extend(out)
        return out

    @property
    def stage(self) -> str | None:
        return None if self.lead is None else self.lead.stage

    @property
    def score(self) -> int:
        return 0 if self.lead is None else self.lead.score


def changes(out: list[DomainEvent]) -> list[StageChanged]:
    return [e for e in out if isinstance(e, StageChanged)]


def moved(out: list[DomainEvent]) -> tuple[str | None, str, str] | None:
    """(from, to, rule) of the one StageChanged in `out`, or None."""
    found = changes(out)
    assert len(found) <= 1, found
    return (found[0].from_stage, found[0].to_stage, found[0].rule) if found else None


def walk(driver: Driver, *steps: Step) -> None:
    for step in steps:
        driver.step(step)


FORM: Step = ("form_submitted", {"form_id": "f1", "email": "x@example.com"})
HIGH_INTENT_FORM: Step = ("form_submitted", {"form_id": "f1", "email": "x@example.com", "intent": "high"})
WON: Step = ("opportunity_won", {"opportunity_id": "o1", "amount": "1000000"})
LOST: Step = ("opportunity_lost", {"opportunity_id": "o1", "reason": "budget"})
DISQUALIFIED: Step = ("lead_disqualified", {"reason": "no fit"})
