"""GET /v1/accounts/{account_id}: the buying group of an account, each person's stage (docs/engine.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from services.common.api_keys import ApiKey
from services.common.limits import MAX_ID_LENGTH
from services.common.read_access import ERROR_CONTENT
from services.stage_engine.api.access import REFUSALS, read_leads
from services.stage_engine.app.account_view import account_view
from services.stage_engine.app.read_audit import record_read

router = APIRouter(tags=["accounts"], dependencies=[Depends(read_leads)], responses=REFUSALS)
ERROR_RESPONSE = {"content": ERROR_CONTENT}


@router.get(
    "/v1/accounts/{account_id}",
    summary="An account's buying group: each person whose account it is now, with their stage",
    description=(
        "The people whose latest account_id (the model's account dimension) is this account: each person's lead "
        "id, CRM ids, stage and division now, when they entered it, their score and their other dimension values, "
        "in stage order. The account's own stage by the KPI rule is GET /v1/kpi/accounts?account=<id>."
    ),
    responses={
        404: {"description": "No person has this account", **ERROR_RESPONSE},
        422: {"description": "Not an id", **ERROR_RESPONSE},
    },
)
async def get_account(account_id: str, request: Request, key: Annotated[ApiKey, Depends(read_leads)]) -> dict[str, Any]:
    if len(account_id) > MAX_ID_LENGTH or "\x00" in account_id or not account_id.isprintable():
        raise HTTPException(422, detail={"field": "account_id", "reason": "not an account id the ingest accepts"})
    view = await account_view(request.app.state.db, request.app.state.model, account_id)
    if view is None:
        reason = f"no person has the account {account_id!r}"
        raise HTTPException(404, detail={"field": "account_id", "reason": reason})
    await record_read(request.app.state.db, key.id, *(person["lead_id"] for person in view["people"]))
    return view
