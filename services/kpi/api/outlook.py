"""GET /v1/kpi/bottleneck and GET /v1/kpi/forecast (docs/kpi.md "Bottleneck", "Forecast")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.kpi.api.params import Kpi, forecast_period, kpi, period, slicing
from services.kpi.app import report_outlook
from services.kpi.domain.periods import Period
from services.kpi.domain.slicing import Slicing, answer

router = APIRouter(tags=["kpi"])

Sliced = Annotated[Slicing, Depends(slicing)]
TRAILING = Query(ge=1, le=12, description="How many periods of P's length before P make the trailing average")


@router.get("/v1/kpi/bottleneck", summary="Stages ranked by the revenue they hold back, with the components")
async def bottleneck(
    ctx: Annotated[Kpi, Depends(kpi)],
    p: Annotated[Period, Depends(period)],
    s: Sliced,
    trailing: Annotated[int, TRAILING] = 3,
) -> dict[str, Any]:
    whole, parts = await report_outlook.bottleneck(ctx.db, ctx.model, p, trailing, ctx.currency, s)
    header = {
        **ctx.header(p),
        "trailing": {"periods": trailing, **ctx.bounds(p.trailing(trailing))},
        "currency": ctx.currency,
    }
    return answer(header, s, whole, parts)


@router.get("/v1/kpi/forecast", summary="Next period's inflow per stage and expected revenue (Markov chain)")
async def forecast(
    ctx: Annotated[Kpi, Depends(kpi)], p: Annotated[Period, Depends(forecast_period)], s: Sliced
) -> dict[str, Any]:
    whole, parts = await report_outlook.outlook(ctx.db, ctx.model, p, ctx.now, ctx.currency, s)
    header = {**ctx.header(p), "horizon": ctx.bounds(p.shifted(1))}
    return answer(header, s, whole, parts)
