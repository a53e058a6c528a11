"""evolve(lead, domain event) -> lead, and fold(events) -> lead. Pure; every event bumps `version`.

Folding a lead's stored stream rebuilds exactly the state the engine held live (property-tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from services.common.lead_events.events import (
    DimensionsSet,
    DomainEvent,
    FeedbackRecorded,
    IdentityLinked,
    LeadCreated,
    LeadsMerged,
    RevenueBooked,
    ScoreChanged,
    SlaMet,
    StageChanged,
)
from services.stage_engine.domain.dimension_values import with_values
from services.stage_engine.domain.lead import Lead


def evolve(lead: Lead | None, event: DomainEvent) -> Lead:
    if lead is None:
        if not isinstance(event, LeadCreated):
            raise ValueError(f"a lead stream must start with LeadCreated, not {type(event).__name__}")
        return Lead(lead_id=event.lead_id, created_at=event.occurred_at, version=1)
    if event.lead_id != lead.lead_id:
        raise ValueError(f"{type(event).__name__} of lead {event.lead_id} applied to lead {lead.lead_id}")
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise ValueError(f"{type(event).__name__} cannot be applied to an existing lead")
    return handler(lead, event)


def fold(events: Iterable[DomainEvent], lead: Lead | None = None) -> Lead:
    """The state after `events` (from `lead`, or from nothing: then the first must be LeadCreated)."""
    for event in events:
        lead = evolve(lead, event)
    if lead is None:
        raise ValueError("no events to fold")
    return lead


def _identity(lead: Lead, e: IdentityLinked) -> Lead:
    return _next(lead, identities=lead.identities | {(e.kind, e.value)}, version=lead.version + 1)


def _dimensions(lead: Lead, e: DimensionsSet) -> Lead:
    return _next(lead, dimensions=with_values(lead.dimensions, e.values, e.occurred_at), version=lead.version + 1)


def _score(lead: Lead, e: ScoreChanged) -> Lead:
    return _next(lead, score=e.new_score, version=lead.version + 1)


def _stage(lead: Lead, e: StageChanged) -> Lead:
    return _next(
        lead,
        stage=e.to_stage,
        stage_entered_at=e.occurred_at,
        score_at_stage_entry=lead.score,
        divisions=lead.divisions if e.to_division in lead.divisions else lead.divisions | {e.to_division},
        sla_due_at=e.sla_due_at,
        sla_met_at=None,
        version=lead.version + 1,
    )


def _sla_met(lead: Lead, e: SlaMet) -> Lead:
    return _next(lead, sla_met_at=e.occurred_at, version=lead.version + 1)


def _merged(lead: Lead, e: LeadsMerged) -> Lead:
    if e.role == "absorbed":
        return _next(lead, merged_into=e.survivor_id, version=lead.version + 1)
    return _next(
        lead,
        stage=e.stage_after,
        stage_entered_at=e.stage_entered_at_after,
        score=e.score_after,
        score_at_stage_entry=e.score_at_stage_entry_after,
        identities=lead.identities | frozenset(e.identities),
        divisions=frozenset(e.divisions_after),
        sla_due_at=e.sla_due_at_after,
        sla_met_at=e.sla_met_at_after,
        dimensions=e.dimensions_after,
        version=lead.version + 1,
    )


def _recorded(lead: Lead, _: RevenueBooked | FeedbackRecorded) -> Lead:
    return _next(lead, version=lead.version + 1)


_LEAD_FIELDS = tuple(f.name for f in fields(Lead))
_LEAD_FIELD_SET = frozenset(_LEAD_FIELDS)


def _next(lead: Lead, **changes: Any) -> Lead:
    """`dataclasses.replace` without its per-call field walk and keyword `__init__` (twice as fast; this runs
    for every domain event). Lead has no `__post_init__`, so the result is the same object replace builds."""
    assert changes.keys() <= _LEAD_FIELD_SET, f"not fields of Lead: {changes.keys() - _LEAD_FIELD_SET}"
    new = object.__new__(Lead)
    for name in _LEAD_FIELDS:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(lead, name))
    return new


_HANDLERS: dict[type, Callable[[Lead, Any], Lead]] = {
    IdentityLinked: _identity,
    DimensionsSet: _dimensions,
    ScoreChanged: _score,
    StageChanged: _stage,
    SlaMet: _sla_met,
    LeadsMerged: _merged,
    RevenueBooked: _recorded,
    FeedbackRecorded: _recorded,
}
