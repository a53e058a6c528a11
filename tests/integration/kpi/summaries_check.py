"""The summary tables give exactly the numbers of the projection tables (report_funnel: summary_counts against
projection_counts, both in one snapshot) over many periods: aligned to UTC days or not, inside one day,
before, across and after the log, and at a `now` before the log's end (ages then take the exact path); and
so do the summaries per slice, for every bounded dimension (`by`) and for a filter on one of its values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.adapters.snapshot import snapshot
from services.kpi.adapters.summary_scope import SummaryScope, summaries_kept
from services.kpi.app.report_funnel import projection_counts, summary_counts
from services.kpi.domain.funnel import stage_rows
from services.kpi.domain.periods import Period

TOKYO = timezone(timedelta(hours=9))


def periods(start: datetime) -> list[Period]:
    found = []
    for offset in (timedelta(days=-2), timedelta(0), timedelta(days=3, hours=7, minutes=13), timedelta(days=12)):
        for length in (timedelta(hours=5), timedelta(days=1), timedelta(days=7, hours=3), timedelta(days=40),
                       timedelta(days=400)):  # fmt: skip
            for zone in (start.tzinfo, TOKYO):
                begin = (start + offset).astimezone(zone)
                found.append(Period(begin, begin + length))
    return found


async def scopes(conn: AsyncConnection, model: StageModel) -> list[Scope]:
    """The whole; per bounded dimension: by it, and a filter on its most common value and the "none" slice."""
    found = [WHOLE]
    for dimension in (d.name for d in model.dimensions if d.bounded):
        assert await summaries_kept(conn, dimension)
        common = await conn.scalar(
            text("SELECT value FROM kpi_lead_values WHERE dimension = :d GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"),
            {"d": dimension},
        )
        found.append(Scope(dimension))
        found.append(Scope(None, ((dimension, (str(common or "x"), "")),)))
    return found


async def summaries_agree(engine: AsyncEngine, model: StageModel, start: datetime, *, sliced: bool = True) -> int:
    """Compares every period at two `now`s (sliced: in every scope); returns how many answers were compared."""
    compared = 0
    async with snapshot(engine) as conn:
        assert await summaries_kept(conn)
        for scope in await scopes(conn, model) if sliced else [WHOLE]:
            for now in (start + timedelta(days=400), start + timedelta(days=9, hours=5)):
                for period in periods(start) if scope.whole else periods(start)[::7]:
                    fast = await summary_counts(conn, model, period, now, SummaryScope(scope))
                    exact = await projection_counts(conn, model, period, now, scope)
                    assert fast.keys() == exact.keys(), (scope, period, now)
                    for key in fast:
                        assert stage_rows(model, fast[key]) == stage_rows(model, exact[key]), (scope, key, period, now)
                    compared += 1
    return compared
