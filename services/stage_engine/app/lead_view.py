"""A lead as a reader sees it (GET /v1/leads/{id}): its stage, score and every transition with its cause; the
score's itemised changes; the pages and screens viewed before and since identification, and the campaigns."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.stage_engine.adapters.lead_queries import lead_history
from services.stage_engine.app.activity_view import SCORE_CHANGES_SHOWN, activity_view, campaigns_view, score_history
from services.stage_engine.domain.lead import CRM


async def lead_view(engine: AsyncEngine, model: StageModel, any_id: str) -> dict[str, Any] | None:
    """The lead known by `any_id` (internal or CRM id), or None when no lead is."""
    found = await lead_history(engine, any_id, SCORE_CHANGES_SHOWN)
    if found is None:
        return None
    lead = found["lead"]
    stage = lead["stage"]
    transitions = []
    for stream, position, event in found["events"]:
        if event["type"] == "StageChanged":
            transitions.append(
                {
                    "lead_id": stream,
                    "from_stage": event["from_stage"],
                    "to_stage": event["to_stage"],
                    "division": event["to_division"],
                    "rule": event["rule"],
                    "via": event["via"],
                    "model_version": event["model_version"],
                    "cause_event_id": event["cause_event_id"],
                    "occurred_at": event["occurred_at"],
                    "position": position,
                }
            )
    merges = [
        {
            "survivor_id": e["survivor_id"],
            "absorbed_id": e["absorbed_id"],
            "cause_event_id": e["cause_event_id"],
            "occurred_at": e["occurred_at"],
            "stage_after": e["stage_after"],
        }
        for stream, _, e in found["events"]
        if e["type"] == "LeadsMerged" and e["role"] == "survivor"
    ]
    return {
        "lead_id": lead["lead_id"],
        "crm_ids": sorted(value for kind, value in lead["identities"] if kind == CRM),
        "stage": stage,
        "division": model.stages[stage].division if stage in model.stages else None,
        "stage_entered_at": lead["stage_entered_at"],
        "score": lead["score"],
        "sla_due_at": lead["sla_due_at"],
        "merged_from": found["absorbed"],
        "merges": merges,
        "transitions": transitions,
        "score_history": score_history(lead["score"], *found["score_changes"]),
        "activity": activity_view(found["activity"], found["identification"]),
        "campaigns": campaigns_view(found["activity"]),
    }
