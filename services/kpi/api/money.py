"""GET /v1/kpi/revenue, /v1/kpi/customer-success, /v1/kpi/feedback (docs/kpi.md "API")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.kpi.api.params import Kpi, kpi, period, slicing
from services.kpi.app import report_money
from services.kpi.domain.periods import Period
from services.kpi.domain.slicing import Slicing, answer

router = APIRouter(tags=["kpi"])
Sliced = Annotated[Slicing, Depends(slicing)]


@router.get("/v1/kpi/revenue", summary="Revenue by kind, shared revenue, attributed revenue by kind and division")
async def revenue(
    ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)], s: Sliced
) -> dict[str, Any]:
    return answer(ctx.header(p), s, *await report_money.revenue(ctx.db, ctx.model, p, ctx.currency, s))


@router.get("/v1/kpi/customer-success", summary="Churn rate, renewal rate, NRR and GRR with the counts used")
async def customer_success(
    ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)], s: Sliced
) -> dict[str, Any]:
    whole, parts = await report_money.customer_success(ctx.db, ctx.model, p, ctx.currency, s)
    return answer({**ctx.header(p), "previous_period": ctx.bounds(p.previous())}, s, whole, parts)


@router.get("/v1/kpi/feedback", summary="Feedback per (from_division, to_division) and per campaign")
async def feedback(
    ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)], s: Sliced
) -> dict[str, Any]:
    return answer(ctx.header(p), s, *await report_money.feedback(ctx.db, p, s))
