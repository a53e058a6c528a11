"""GET /v1/kpi/accounts (docs/kpi.md "Accounts")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from services.kpi.api.params import Kpi, kpi, period, slicing
from services.kpi.app.report_accounts import account_dimension, accounts
from services.kpi.domain.periods import Period
from services.kpi.domain.slicing import Slicing, answer

router = APIRouter(tags=["kpi"])

RULE = "an account is in the most advanced success-path stage any of its leads reached"


@router.get(
    "/v1/kpi/accounts",
    summary="Accounts by their furthest lead's stage: flow, balance, CVRs, revenue, NRR and GRR of accounts",
)
async def account_kpis(
    ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)], s: Annotated[Slicing, Depends(slicing)]
) -> dict[str, Any]:
    dimension = account_dimension(ctx.model)
    if dimension is None:
        raise HTTPException(404, detail={"field": "model", "reason": "the stage model declares no account dimension"})
    whole, parts = await accounts(ctx.db, ctx.model, dimension, p, ctx.currency, s)
    return answer({**ctx.header(p), "rule": RULE}, s, whole, parts)
