"""One lead event -> the lead's new facts and the moments it makes (pure; the adapters load and store facts).

The lead's source: a DimensionsSet naming the `source` dimension sets it; a merge gives the survivor the value
the merge kept (`dimensions_after`: per dimension the observation its rule keeps of the two leads).

SLA deadlines: a stage change opens the deadline of the stay it starts (or none) and so cancels the one
before; an SlaMet in time cancels it; a merge cancels the absorbed lead's deadline and gives the survivor the
deadline of the stay the merge kept, unless that deadline had already passed when the merge was recorded
and was not the survivor's own (it was the absorbed lead's, and fired, or was cancelled, there).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.common.lead_events.events import (
    DimensionsSet,
    DomainEvent,
    FeedbackRecorded,
    IdentityLinked,
    LeadsMerged,
    RevenueBooked,
    ScoreChanged,
    SlaMet,
    StageChanged,
)
from services.dispatch.domain.lead_facts import SOURCE_DIMENSION, Deadline, LeadFacts
from services.dispatch.domain.model_rules import CHURN_EVENT, LOST_EVENT, ModelRules
from services.dispatch.domain.moments import Moment, MomentKind, event_key

REVENUE_MOMENTS: dict[str, MomentKind] = {"new": "opportunity_won", "renewal": "customer_renewed"}


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """One record of stagetrack.lead-events, decoded."""

    position: int
    lead_id: str
    version: int
    event: DomainEvent
    partition: int
    recorded_at: datetime  # the record's Kafka timestamp: when the outbox published the stored event


def follow(facts: LeadFacts, record: LeadRecord, rules: ModelRules) -> tuple[LeadFacts, list[Moment]]:
    """The facts after `record` and its moments; a record at or before the last position seen changes nothing."""
    if record.position <= facts.last_position:
        return facts, []
    facts = replace(facts, last_position=record.position)
    e = record.event
    if isinstance(e, IdentityLinked) and e.kind == "crm" and e.value not in facts.crm_ids:
        return replace(facts, crm_ids=(*facts.crm_ids, e.value)), []
    if isinstance(e, StageChanged):
        return _stage_changed(facts, record, e, rules)
    if isinstance(e, DimensionsSet):
        values = dict(e.values)
        return (replace(facts, source=values[SOURCE_DIMENSION]) if SOURCE_DIMENSION in values else facts), []
    if isinstance(e, SlaMet):
        held = facts.deadline
        cancelled = e.on_time and held is not None and held.stage == e.stage
        return (replace(facts, deadline=None) if cancelled else facts), []
    if isinstance(e, LeadsMerged):
        return _merged(facts, record, e, rules), []
    if isinstance(e, ScoreChanged):
        details = {"previous_score": e.new_score - e.delta, "score": e.new_score, "delta": e.delta, "rule": e.rule}
        return facts, [_moment("score_crossed", facts, record, details)]
    if isinstance(e, RevenueBooked) and e.kind in REVENUE_MOMENTS:
        details = {
            "revenue_kind": e.kind,
            "amount": e.amount,
            "currency": e.currency,
            "opportunity_id": e.reference,
            "account_id": e.account_id,
        }
        return facts, [_moment(REVENUE_MOMENTS[e.kind], facts, record, details)]
    if isinstance(e, FeedbackRecorded):
        details = {
            "from_division": e.from_division,
            "to_division": e.to_division,
            "about": e.about,
            "rating": e.rating,
            "met_expectations": e.met_expectations,
            "reason_code": e.reason_code,
            "campaign": e.campaign,
        }
        return facts, [_moment("feedback_submitted", facts, record, details)]
    return facts, []


def _stage_changed(
    facts: LeadFacts, record: LeadRecord, e: StageChanged, rules: ModelRules
) -> tuple[LeadFacts, list[Moment]]:
    deadline = None
    if e.sla_due_at is not None:
        deadline = Deadline(e.to_stage, rules.sla_of.get(e.to_stage), e.sla_due_at, record.partition)
    facts = replace(facts, stage=e.to_stage, division=e.to_division, deadline=deadline)
    details = {
        "from_stage": e.from_stage,
        "to_stage": e.to_stage,
        "rule": e.rule,
        "via": list(e.via),
        "from_entered_at": _text(e.from_entered_at),
        "sla_due_at": _text(e.sla_due_at),
    }
    moments = [_moment("stage_entered", facts, record, details)]
    rules_applied = (e.rule, *e.via)
    if rules.fired_on(rules_applied, LOST_EVENT):
        moments.append(_moment("opportunity_lost", facts, record, details))
    if rules.fired_on(rules_applied, CHURN_EVENT):
        moments.append(_moment("customer_churned", facts, record, details))
    return facts, moments


def _merged(facts: LeadFacts, record: LeadRecord, e: LeadsMerged, rules: ModelRules) -> LeadFacts:
    if e.role == "absorbed":
        return replace(facts, stage=None, division=None, deadline=None)
    crm = tuple(value for kind, value in e.identities if kind == "crm" and value not in facts.crm_ids)
    stage = e.stage_after
    deadline = None
    due = e.sla_due_at_after
    if stage is not None and due is not None and e.sla_met_at_after is None:
        own = facts.deadline is not None and facts.deadline.due_at == due and facts.deadline.stage == stage
        if own or due > record.recorded_at:
            deadline = Deadline(stage, rules.sla_of.get(stage), due, record.partition)
    division = rules.division_of.get(stage) if stage is not None else None
    source = facts.source
    if e.dimensions_after:  # the merge kept, per dimension, the observation its rule keeps of the two leads
        source = next((value for name, value, _ in e.dimensions_after if name == SOURCE_DIMENSION), None)
    return replace(
        facts, stage=stage, division=division, crm_ids=(*facts.crm_ids, *crm), deadline=deadline, source=source
    )


def _moment(kind: MomentKind, facts: LeadFacts, record: LeadRecord, details: dict[str, Any]) -> Moment:
    return Moment(
        kind=kind,
        key=event_key(kind, record.position),
        lead_id=record.lead_id,
        occurred_at=record.event.occurred_at,
        recorded_at=record.recorded_at,
        cause_event_id=record.event.cause_event_id,
        stage=facts.stage,
        division=facts.division,
        crm_ids=facts.crm_ids,
        source=facts.source,
        details=details,
    )


def _text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
