"""GET /v1/kpi/revenue, /v1/kpi/customer-success, /v1/kpi/feedback (docs/kpi.md "API")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.kpi.api.params import Kpi, kpi, period
from services.kpi.app import report_money
from services.kpi.domain.periods import Period

router = APIRouter(tags=["kpi"])


@router.get("/v1/kpi/revenue", summary="Revenue by kind, shared revenue, attributed revenue by kind and division")
async def revenue(ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)]) -> dict[str, Any]:
    return {**ctx.header(p), **await report_money.revenue(ctx.db, ctx.model, p, ctx.currency)}


@router.get("/v1/kpi/customer-success", summary="Churn rate, renewal rate, NRR and GRR with the counts used")
async def customer_success(ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)]) -> dict[str, Any]:
    report = await report_money.customer_success(ctx.db, ctx.model, p, ctx.currency)
    return {**ctx.header(p), "previous_period": ctx.bounds(p.previous()), **report}


@router.get("/v1/kpi/feedback", summary="Feedback per (from_division, to_division) and per campaign")
async def feedback(ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)]) -> dict[str, Any]:
    return {**ctx.header(p), **await report_money.feedback(ctx.db, p)}
