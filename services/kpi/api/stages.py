"""GET /v1/kpi/stages and GET /v1/kpi/stages/{stage}/balance (docs/kpi.md "API")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from services.kpi.api.params import Kpi, kpi, period, series_period, slicing
from services.kpi.app.report_funnel import balance_report, stages_report
from services.kpi.domain.periods import Period
from services.kpi.domain.slicing import Slicing, answer

router = APIRouter(tags=["kpi"])
Sliced = Annotated[Slicing, Depends(slicing)]


@router.get("/v1/kpi/stages", summary="Per stage: flow, balance, reached, CVRs, time in stage, age, SLAs")
async def stages(ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(period)], s: Sliced) -> dict[str, Any]:
    return answer(ctx.header(p), s, *await stages_report(ctx.db, ctx.model, p, ctx.now, s))


@router.get("/v1/kpi/stages/{stage}/balance", summary="A stage's balance at `to` and at the end of each day")
async def stage_balance(
    stage: str, ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(series_period)], s: Sliced
) -> dict[str, Any]:
    found = ctx.model.stages.get(stage)
    if found is None:
        known = ", ".join(ctx.model.stages)
        raise HTTPException(404, detail={"field": "stage", "reason": f"no stage {stage!r} in the model ({known})"})
    whole, parts = await balance_report(ctx.db, stage, p, ctx.zone, s)
    header = {**ctx.header(p), "stage": stage, "division": found.division}
    return answer(header, s, whole, parts)
