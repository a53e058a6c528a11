"""Feedback between divisions in P: per (from_division, to_division) and per campaign."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.domain.feedback import FeedbackSums
from services.kpi.domain.periods import Period

_SUMS = (
    "count(*) AS n, sum(rating) AS ratings, count(*) FILTER (WHERE met_expectations) AS met, "
    "count(met_expectations) AS answered"
)
_BY_PAIR = text(
    f"SELECT from_division, to_division, {_SUMS} FROM kpi_feedback "
    "WHERE occurred_at >= :start AND occurred_at < :end GROUP BY from_division, to_division "
    "ORDER BY from_division, to_division"
)
_BY_CAMPAIGN = text(
    f"SELECT campaign, {_SUMS} FROM kpi_feedback "
    "WHERE occurred_at >= :start AND occurred_at < :end AND campaign IS NOT NULL GROUP BY campaign ORDER BY campaign"
)


def _sums(row: object) -> FeedbackSums:
    return FeedbackSums(int(row.n), int(row.ratings), int(row.met), int(row.answered))  # type: ignore[attr-defined]


async def feedback(
    conn: AsyncConnection, period: Period
) -> tuple[dict[tuple[str, str], FeedbackSums], dict[str, FeedbackSums]]:
    params = {"start": period.start, "end": period.end}
    pairs = {(r.from_division, r.to_division): _sums(r) for r in await conn.execute(_BY_PAIR, params)}
    campaigns = {r.campaign: _sums(r) for r in await conn.execute(_BY_CAMPAIGN, params)}
    return pairs, campaigns
