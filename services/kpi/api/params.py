"""What every /v1/kpi route reads: the period from `from`/`to` (422 naming the parameter) and the app's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.app.settings import KpiSettings
from services.kpi.domain.periods import HINT, Period, PeriodErrors, horizon, local_text, parse_period
from services.kpi.domain.slicing import Slicing, SlicingError, parse_slicing

FROM = Query(alias="from", description=f"Start of P, inclusive: {HINT} (a date is midnight in the reporting zone)")
TO = Query(alias="to", description=f"End of P, exclusive: {HINT}")
BY = Query(
    description="Slice the answer by a dimension of the model (THE MODEL: source, campaign, segment, owner, account): "
    "`all` is the answer without `by`, `slices` the same per value. Filters: `<dimension>=<value>`, repeatable "
    '(`source=google&source=bing`); an empty value means leads without one. docs/kpi.md "Slices".'
)
# A daily series longer than this is refused (the answer would be unreasonably long).
MAX_SERIES_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Kpi:
    """The app's state for one request: the database, the stage model, the settings and `now`."""

    db: AsyncEngine
    model: StageModel
    settings: KpiSettings
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.reporting_timezone)

    @property
    def currency(self) -> str:
        return self.settings.reporting_currency

    def bounds(self, period: Period) -> dict[str, str]:
        """A period the answer derives from P (previous, trailing, horizon) as {from, to} in the reporting zone."""
        return {"from": local_text(period.start, self.zone), "to": local_text(period.end, self.zone)}

    def header(self, period: Period) -> dict[str, Any]:
        return {
            "from": local_text(period.start, self.zone),
            "to": local_text(period.end, self.zone),
            "now": local_text(self.now, self.zone),
            "timezone": self.settings.reporting_timezone,
            "model": {"name": self.model.name, "version": self.model.version},
        }


def kpi(request: Request) -> Kpi:
    state = request.app.state
    clock: Callable[[], datetime] = state.clock
    return Kpi(state.db, state.model, state.settings, clock())


def slicing(request: Request, by: Annotated[str | None, BY] = None) -> Slicing:
    """`by` and the dimension filters; 422 naming `by` when the model has no such dimension."""
    try:
        return parse_slicing(request.app.state.model, by, request.query_params.getlist)
    except SlicingError as exc:
        raise HTTPException(422, detail=[{"field": exc.field, "reason": exc.reason}]) from None


def _period(request: Request, start: str | None, end: str | None, max_days: int | None) -> Period:
    try:
        return parse_period(start, end, ZoneInfo(request.app.state.settings.reporting_timezone), max_days)
    except PeriodErrors as exc:
        raise HTTPException(422, detail=[{"field": e.field, "reason": e.reason} for e in exc.errors]) from None


def period(
    request: Request, start: Annotated[str | None, FROM] = None, end: Annotated[str | None, TO] = None
) -> Period:
    return _period(request, start, end, None)


def forecast_period(
    request: Request, start: Annotated[str | None, FROM] = None, end: Annotated[str | None, TO] = None
) -> Period:
    """P, refused (422 naming `to`) when the horizon after it would end past the supported range."""
    p = _period(request, start, end, None)
    try:
        horizon(p, ZoneInfo(request.app.state.settings.reporting_timezone))
    except PeriodErrors as exc:
        raise HTTPException(422, detail=[{"field": e.field, "reason": e.reason} for e in exc.errors]) from None
    return p


def series_period(
    request: Request, start: Annotated[str | None, FROM] = None, end: Annotated[str | None, TO] = None
) -> Period:
    return _period(request, start, end, MAX_SERIES_DAYS)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422s (e.g. `trailing` out of range) in the same shape as ours: field and reason."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": str(e["loc"][-1]) if e.get("loc") else "request", "reason": e["msg"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)
