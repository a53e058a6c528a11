"""decide(lead, event, model) -> domain events. Pure: the same inputs always give the same events.

Per event, in this order (docs/stage-model.md has the full rules):
1. LeadCreated when `lead` is None (the internal id derives from the event id), then IdentityLinked
   for each identity the event carries that the lead does not have yet, then DimensionsSet when the event
   shows a dimension value the model's rule keeps (dimension_values.py).
2. Scoring: the first scoring rule that matches fires -> ScoreChanged. Conditions see the lead before it.
3. Transitions, seeing the score after step 2: the first matching rule from the current stage moves the
   lead; the rules are tried again from the new stage (same event) until none matches, a stage would
   repeat, or a detour was entered. ONE StageChanged records from -> final stage. A new lead is matched
   as if it sat in the initial stage and, when nothing matches, lands there (rule `initial.id`).
   Never backwards on the success path: such rules are dropped when the model is compiled.
4. SlaMet when the event is one the current stay's SLA names (and the lead did not move).
5. RevenueBooked for the model's revenue events; FeedbackRecorded for feedback_submitted.

Time: events are applied in arrival order. A change's `occurred_at` is max(event time, entry time of
the stay it ends) so no stay is negative; the event's own time is kept in `event_occurred_at`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.common.envelope import Event
from services.common.lead_events.events import (
    DomainEvent,
    IdentityLinked,
    LeadCreated,
    ScoreChanged,
    SlaMet,
    StageChanged,
)
from services.common.stage_model.model_types import StageModel
from services.stage_engine.domain.dimension_values import observed
from services.stage_engine.domain.lead import Identity, Lead, event_identities, new_lead_id
from services.stage_engine.domain.revenue_feedback import EventRejected, revenue_and_feedback
from services.stage_engine.domain.rule_matching import RuleContext, first_scoring_rule, transition_chain

__all__ = ["EventRejected", "LeadMergedError", "decide"]


class LeadMergedError(ValueError):
    """decide was given an absorbed lead: the adapter must resolve identities to the survivor."""


def decide(
    lead: Lead | None, event: Event, model: StageModel, *, extra_identities: Iterable[Identity] = ()
) -> list[DomainEvent]:
    """The domain events `event` causes for `lead` (None: nobody known yet, a lead is created).

    `extra_identities` are identities the adapter derived itself (the keyed email hash of a form).
    """
    out: list[DomainEvent] = []
    eid, at = event.event_id, event.occurred_at
    if lead is None:
        lead = Lead(lead_id=new_lead_id(eid), created_at=at)
        out.append(LeadCreated(lead_id=lead.lead_id, cause_event_id=eid, occurred_at=at, model_version=model.version))
    elif lead.merged_into is not None:
        raise LeadMergedError(f"lead {lead.lead_id} was merged into {lead.merged_into}")
    lead_id, known = lead.lead_id, set(lead.identities)
    for kind, value in (*event_identities(event), *extra_identities):
        if (kind, value) not in known:
            known.add((kind, value))
            out.append(IdentityLinked(lead_id=lead_id, cause_event_id=eid, occurred_at=at, kind=kind, value=value))
    dimensions = observed(lead.dimensions, event, model, lead_id)
    if dimensions is not None:
        out.append(dimensions)
    conditions = RuleContext(event, lead)
    stage = lead.stage or model.initial_stage
    score, at_entry = lead.score, lead.score_at_stage_entry
    rule = first_scoring_rule(model, event, conditions, stage, score, at_entry)
    if rule is not None:
        score += rule.points
        change = ScoreChanged(
            lead_id=lead_id, cause_event_id=eid, occurred_at=at, delta=rule.points, new_score=score, rule=rule.id
        )
        out.append(change)
    steps = transition_chain(model, event, conditions, stage, score, at_entry)
    if lead.stage is None or steps:
        to = steps[-1].to if steps else model.initial_stage
        entered = lead.stage_entered_at
        when = at if entered is None or at >= entered else entered
        sla = model.slas.get(to)
        out.append(
            StageChanged(
                lead_id=lead_id,
                cause_event_id=eid,
                occurred_at=when,
                from_stage=lead.stage,
                to_stage=to,
                to_division=model.stages[to].division,
                rule=steps[-1].id if steps else model.initial_rule,
                via=tuple(step.id for step in steps[:-1]),
                model_version=model.version,
                event_occurred_at=at,
                from_entered_at=entered,
                sla_due_at=None if sla is None else when + sla.within,
            )
        )
        divisions = lead.divisions | {model.stages[to].division}
    else:
        divisions = lead.divisions
        sla_met = _sla_met(lead, event, model)
        if sla_met is not None:
            out.append(sla_met)
    out.extend(revenue_and_feedback(lead_id, event, model, divisions))
    return out


def _sla_met(lead: Lead, event: Event, model: StageModel) -> SlaMet | None:
    sla = model.slas.get(lead.stage or "")
    if sla is None or event.type not in sla.satisfied_by or lead.sla_met_at is not None:
        return None
    if lead.sla_due_at is None or lead.stage_entered_at is None:
        return None
    at: datetime = max(event.occurred_at, lead.stage_entered_at)
    return SlaMet(
        lead_id=lead.lead_id,
        cause_event_id=event.event_id,
        occurred_at=at,
        stage=sla.stage,
        rule=sla.id,
        on_time=at <= lead.sla_due_at,
    )
