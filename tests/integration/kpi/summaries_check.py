"""The summary tables give exactly the numbers of the projection tables (report_funnel: summary_counts against
projection_counts, both in one snapshot) over many periods: aligned to UTC days or not, inside one day,
before, across and after the log, and at a `now` before the log's end (ages then take the exact path)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.queries_summaries import summaries_kept
from services.kpi.adapters.snapshot import snapshot
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


async def summaries_agree(engine: AsyncEngine, model: StageModel, start: datetime) -> int:
    """Compares every period at two `now`s; returns how many answers were compared."""
    compared = 0
    async with snapshot(engine) as conn:
        assert await summaries_kept(conn)
        for now in (start + timedelta(days=400), start + timedelta(days=9, hours=5)):
            for period in periods(start):
                fast = stage_rows(model, await summary_counts(conn, model, period, now))
                exact = stage_rows(model, await projection_counts(conn, model, period, now))
                assert fast == exact, (period, now)
                compared += 1
    return compared
