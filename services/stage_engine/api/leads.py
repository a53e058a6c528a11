"""GET /v1/leads/{lead_id}: why is this lead here — its stage, score and every transition with its cause, the
score's itemised changes, what the person viewed before and since identification and the campaigns that brought
them (docs/engine.md "The lead view")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from services.common.api_keys import ApiKey
from services.common.limits import MAX_ID_LENGTH
from services.common.read_access import ERROR_CONTENT
from services.stage_engine.api.access import REFUSALS, read_leads
from services.stage_engine.app.lead_view import lead_view
from services.stage_engine.app.read_audit import record_read

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
    summary="A lead's stage, score and history, activity and campaigns (internal, CRM or anonymous id)",
    description=(
        "The lead known by an internal id, a CRM lead id or an anonymous id (an absorbed lead answers with its "
        "survivor): stage, score and every transition with its cause; `score_history`, the latest score changes "
        "with the rule, the event and the points; `activity`, page and screen views counted by path or screen "
        "name, before and since identification (the first email or CRM id), the 20 most viewed of each with the "
        "rest summed; `campaigns`, the UTM campaigns of those views with the first and last touch."
    ),
    responses={
        404: {"description": "No lead is known by this id", **ERROR_RESPONSE},
        422: {"description": "Not an id", **ERROR_RESPONSE},
    },
)
async def get_lead(lead_id: str, request: Request, key: Annotated[ApiKey, Depends(read_leads)]) -> dict[str, Any]:
    if reason := _impossible(lead_id):
        raise HTTPException(422, detail={"field": "lead_id", "reason": reason})
    view = await lead_view(request.app.state.db, request.app.state.model, lead_id)
    if view is None:
        raise HTTPException(404, detail={"field": "lead_id", "reason": f"no lead is known by the id {lead_id!r}"})
    await record_read(request.app.state.db, key.id, view["lead_id"])  # the audit of who read which lead
    return view
