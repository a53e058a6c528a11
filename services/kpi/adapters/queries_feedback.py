"""Feedback between divisions in P: per (from_division, to_division) and per campaign, per slice of the scope."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.domain.feedback import FeedbackSums
from services.kpi.domain.periods import Period

Slice = str | None
_SUMS = (
    "count(*) AS n, sum(rating) AS ratings, count(*) FILTER (WHERE met_expectations) AS met, "
    "count(met_expectations) AS answered"
)
_BY_PAIR = (
    f"SELECT {{key}} AS slice, from_division, to_division, {_SUMS} FROM kpi_feedback f "
    "WHERE occurred_at >= :start AND occurred_at < :end AND {where} GROUP BY 1, 2, 3 ORDER BY 2, 3"
)
_BY_CAMPAIGN = (
    f"SELECT {{key}} AS slice, campaign, {_SUMS} FROM kpi_feedback f "
    "WHERE occurred_at >= :start AND occurred_at < :end AND campaign IS NOT NULL AND {where} GROUP BY 1, 2 ORDER BY 2"
)
Pairs = dict[tuple[str, str], FeedbackSums]


def _sums(row: object) -> FeedbackSums:
    return FeedbackSums(int(row.n), int(row.ratings), int(row.met), int(row.answered))  # type: ignore[attr-defined]


async def feedback(
    conn: AsyncConnection, period: Period, scope: Scope = WHOLE
) -> dict[Slice, tuple[Pairs, dict[str, FeedbackSums]]]:
    """slice -> (per division pair, per campaign)."""
    params = scope.bind({"start": period.start, "end": period.end})
    pairs: dict[Slice, Pairs] = defaultdict(dict)
    campaigns: dict[Slice, dict[str, FeedbackSums]] = defaultdict(dict)
    for r in await conn.execute(scope.sql(_BY_PAIR, "f.lead_id"), params):
        pairs[r.slice][(r.from_division, r.to_division)] = _sums(r)
    for r in await conn.execute(scope.sql(_BY_CAMPAIGN, "f.lead_id"), params):
        campaigns[r.slice][r.campaign] = _sums(r)
    keys = pairs.keys() | campaigns.keys() | (set() if scope.sliced else {None})
    return {key: (pairs[key], campaigns[key]) for key in keys}
