"""GET /v1/leads/{lead_id}: why is this lead here — its stage, score and every transition with its cause."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from services.common.limits import MAX_ID_LENGTH
from services.common.read_access import ERROR_CONTENT
from services.stage_engine.adapters.lead_queries import lead_history
from services.stage_engine.api.access import REFUSALS, read_leads
from services.stage_engine.domain.lead import CRM

router = APIRouter(tags=["leads"], dependencies=[Depends(read_leads)], responses=REFUSALS)
ERROR_RESPONSE = {"content": ERROR_CONTENT}


def _impossible(lead_id: str) -> str | None:
    """Why no lead can have this id, or None. The ingest accepts no such id (and PostgreSQL would refuse a NUL)."""
    if len(lead_id) > MAX_ID_LENGTH:
        return f"ids are at most {MAX_ID_LENGTH} characters; this one has {len(lead_id)}"
    if "\x00" in lead_id:
        return "ids never contain the NUL character"
    try:
        lead_id.encode()
    except UnicodeEncodeError:
        return "ids are Unicode text (this one has a lone surrogate)"
    return None


@router.get(
    "/v1/leads/{lead_id}",
    summary="A lead's stage, score and history (internal or CRM id)",
    responses={
        404: {"description": "No lead is known by this id", **ERROR_RESPONSE},
        422: {"description": "Not an id", **ERROR_RESPONSE},
    },
)
async def get_lead(lead_id: str, request: Request) -> dict[str, Any]:
    if reason := _impossible(lead_id):
        raise HTTPException(422, detail={"field": "lead_id", "reason": reason})
    found = await lead_history(request.app.state.db, lead_id)
    if found is None:
        raise HTTPException(404, detail={"field": "lead_id", "reason": f"no lead is known by the id {lead_id!r}"})
    lead, model = found["lead"], request.app.state.model
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
    }
