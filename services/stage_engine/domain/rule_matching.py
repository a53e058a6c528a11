"""Matching a model's rules against one event: structured checks first, CEL `when:` only if they pass."""

from __future__ import annotations

from typing import Any

from services.common.envelope import Event
from services.common.stage_model.conditions import Condition, event_activation, lead_activation
from services.common.stage_model.model_types import ScoringRule, StageModel, Transition
from services.common.stage_model.property_match import all_hold
from services.stage_engine.domain.lead import Lead


class RuleContext:
    """Builds the CEL activation only if a `when:` is actually reached (most events never need one)."""

    __slots__ = ("_event", "event", "lead")

    def __init__(self, event: Event, lead: Lead) -> None:
        self.event, self.lead = event, lead
        self._event: Any = None  # the CEL view of the event, built on first use

    def holds(self, condition: Condition, stage: str, score: int, score_at_entry: int) -> bool:
        if self._event is None:
            self._event = event_activation(self.event)
        lead = self.lead
        fields = {
            "lead_id": lead.lead_id,
            "stage": stage,
            "score": score,
            "score_at_stage_entry": score_at_entry,
            "score_since_stage_entry": score - score_at_entry,
            "stage_entered_at": lead.stage_entered_at or self.event.occurred_at,
            "created_at": lead.created_at,
            "divisions": sorted(lead.divisions),
            "identified": lead.identified,
            "is_new": lead.version == 0,
        }
        return condition.holds({"event": self._event, "lead": lead_activation(fields)})


def first_scoring_rule(
    model: StageModel, event: Event, conditions: RuleContext, stage: str, score: int, at_entry: int
) -> ScoringRule | None:
    """The first scoring rule (in the order written) that matches the event; at most one fires."""
    for rule in model.scoring_for(event.type):
        if rule.where and not all_hold(rule.where, event.properties):
            continue
        if rule.when is not None and not conditions.holds(rule.when, stage, score, at_entry):
            continue
        return rule
    return None


def transition_chain(
    model: StageModel, event: Event, conditions: RuleContext, stage: str, score: int, at_entry: int
) -> list[Transition]:
    """The rules applied in turn for one event: first match from `stage`, again from where it led, until
    none matches, a stage would repeat, or a detour was entered (a detour is left by a later event)."""
    steps: list[Transition] = []
    visited = {stage}
    while not (steps and model.stages[stage].is_detour):
        for rule in model.transitions_for(stage, event.type):
            if rule.where and not all_hold(rule.where, event.properties):
                continue
            if rule.score_at_least is not None and score < rule.score_at_least:
                continue
            if rule.score_gain_at_least is not None and score - at_entry < rule.score_gain_at_least:
                continue
            if rule.when is not None and not conditions.holds(rule.when, stage, score, at_entry):
                continue
            break
        else:
            return steps
        if rule.to in visited:
            return steps
        steps.append(rule)
        visited.add(rule.to)
        stage, at_entry = rule.to, score  # entering a stage resets "points since entry"
    return steps
