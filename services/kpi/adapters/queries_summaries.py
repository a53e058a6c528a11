"""The /v1/kpi/stages numbers read from the summary tables (summary_store.py), exactly as the projection-table
queries (queries_flow/balance/stays) define them.

A period is cut at UTC midnights: its whole days are summed from per-day rows, and the partial days at either
end ("edges", none when the period starts and ends at UTC midnights) are counted from the projection tables
over their index ranges. Medians and p90 are exact: per-day (or per-bucket) counts find the day (or duration
bucket) that holds each rank, and one index read picks the value at that rank inside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.summary_store import MARKER_ROW
from services.kpi.domain.periods import Period

_NO_INDEX = -1  # a person without a success-path index, as the summaries store it


async def summaries_kept(conn: AsyncConnection) -> bool:
    """The projector keeps the summary tables (summary_store.py) beside these projection tables: they are in the
    same schema (tables built by hand in a test schema would otherwise meet a migrated `public`'s on the
    search path) and hold the marker row."""
    same = await conn.scalar(
        text(
            "SELECT (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('kpi_day_counts')) "
            "= (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('kpi_stays'))"
        )
    )
    return bool(same) and bool(
        await conn.scalar(text(f"SELECT EXISTS (SELECT 1 FROM kpi_day_counts WHERE {MARKER_ROW})"))
    )


class Split:
    """P = edges + whole UTC days [first_day, end_day)."""

    def __init__(self, period: Period) -> None:
        start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
        first = _midnight(start) if start == _midnight(start) else _midnight(start) + timedelta(days=1)
        last = _midnight(end)
        self.edges: list[tuple[datetime, datetime]] = []
        if first < last:
            self.first_day, self.end_day = first.date(), last.date()
            self.edges = [(a, b) for a, b in ((start, first), (last, end)) if a < b]
        else:
            self.first_day = self.end_day = first.date()
            self.edges = [(start, end)]


def _midnight(t: datetime) -> datetime:
    return datetime.combine(t.date(), time(), tzinfo=UTC)


_FLOW_DAYS = text(
    "SELECT from_stage, to_stage, sum(n) AS n FROM kpi_flow_days WHERE day >= :first AND day < :end GROUP BY 1, 2"
)
_FLOW_EDGE = text(
    "SELECT coalesce(from_stage, '') AS from_stage, to_stage, count(*) AS n FROM kpi_transitions "
    "WHERE (to_stage = ANY(:stages) OR from_stage = ANY(:stages)) AND occurred_at >= :start AND occurred_at < :end "
    "GROUP BY 1, 2"
)


async def flows(
    conn: AsyncConnection, stages: Sequence[str], period: Period
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(inflow: stage -> transitions in, outflow: stage -> destination -> transitions out) in P."""
    split = Split(period)
    rows = list(await conn.execute(_FLOW_DAYS, {"first": split.first_day, "end": split.end_day}))
    for a, b in split.edges:
        rows += await conn.execute(_FLOW_EDGE, {"stages": list(stages), "start": a, "end": b})
    known = set(stages)
    inflow: dict[str, int] = defaultdict(int)
    outflow: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row.to_stage in known:
            inflow[row.to_stage] += int(row.n)
        if row.from_stage in known:
            outflow[row.from_stage][row.to_stage] += int(row.n)
    return dict(inflow), {stage: dict(d) for stage, d in outflow.items()}


_BALANCE_DAYS = text(
    "SELECT stage, sum(CASE kind WHEN 'entered' THEN n ELSE -n END) AS n FROM kpi_day_counts "
    "WHERE kind IN ('entered', 'exited') AND stage = ANY(:stages) AND day < :day GROUP BY stage"
)
# Within t's own UTC day, up to t inclusive (a lead counts from entered_at <= t until t < exited_at).
_BALANCE_TODAY = text(
    """
    SELECT stage, sum(n) AS n FROM (
        SELECT stage, count(*) AS n FROM kpi_stays
        WHERE stage = ANY(:stages) AND entered_at >= :midnight AND entered_at <= :t GROUP BY stage
        UNION ALL
        SELECT stage, -count(*) FROM kpi_stays
        WHERE stage = ANY(:stages) AND exited_at >= :midnight AND exited_at <= :t GROUP BY stage
    ) parts GROUP BY stage
    """
)


async def balances_at(conn: AsyncConnection, stages: Sequence[str], t: datetime) -> dict[str, int]:
    midnight = _midnight(t.astimezone(UTC))
    found: dict[str, int] = defaultdict(int)
    for row in await conn.execute(_BALANCE_DAYS, {"stages": list(stages), "day": midnight.date()}):
        found[row.stage] += int(row.n)
    for row in await conn.execute(_BALANCE_TODAY, {"stages": list(stages), "midnight": midnight, "t": t}):
        found[row.stage] += int(row.n)
    return {stage: found.get(stage, 0) for stage in stages}


async def reached_by_furthest(conn: AsyncConnection) -> dict[int, int]:
    rows = await conn.execute(text("SELECT bucket, n FROM kpi_day_counts WHERE kind = 'reach'"))
    return {int(row.bucket): int(row.n) for row in rows}


_COHORT_DAYS = text(
    "SELECT stage, bucket, sum(n) AS n FROM kpi_day_counts WHERE kind = 'cohort' AND stage = ANY(:stages) "
    "AND day >= :first AND day < :end GROUP BY 1, 2"
)
# Entries by a transition in an edge, each judged by its person's furthest index: most leads were never
# merged and count at once; the others follow merged_into to the live lead that carries the person now.
_COHORT_EDGE = text(
    """
    WITH RECURSIVE entries AS MATERIALIZED (
        SELECT s.stage, l.merged_into, l.furthest_index FROM kpi_stays s JOIN kpi_leads l ON l.lead_id = s.lead_id
        WHERE s.stage = ANY(:stages) AND s.entry_kind = 'transition' AND s.since >= :start AND s.since < :end
    ), up(stage, lead_id, depth) AS (
        SELECT stage, merged_into, 1 FROM entries WHERE merged_into IS NOT NULL
        UNION ALL
        SELECT up.stage, l.merged_into, up.depth + 1 FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id
        WHERE l.merged_into IS NOT NULL AND up.depth < 64
    )
    SELECT stage, coalesce(furthest_index, -1) AS bucket, count(*) AS n FROM entries
    WHERE merged_into IS NULL GROUP BY 1, 2
    UNION ALL
    SELECT up.stage, coalesce(l.furthest_index, -1), count(*) FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id
    WHERE l.merged_into IS NULL GROUP BY 1, 2
    """
)
# Re-entries whose previous entry of the same person was in P too: that person is already counted.
_COHORT_REPEATS = text(
    "SELECT stage, furthest_index AS bucket, sum(n) AS n FROM kpi_cohort_repeats "
    "WHERE stage = ANY(:stages) AND at >= :start AND at < :end AND prev_at >= :start GROUP BY 1, 2"
)


async def cohort_furthest(
    conn: AsyncConnection, stages: Sequence[str], period: Period
) -> dict[str, dict[int | None, int]]:
    """stage -> furthest success-path index now -> persons who entered the stage in P."""
    split = Split(period)
    counts: dict[str, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    window = {"stages": list(stages), "start": period.start, "end": period.end}
    parts = [(1, await conn.execute(_COHORT_DAYS, {**window, "first": split.first_day, "end": split.end_day}))]
    for a, b in split.edges:
        parts.append((1, await conn.execute(_COHORT_EDGE, {**window, "start": a, "end": b})))
    parts.append((-1, await conn.execute(_COHORT_REPEATS, window)))
    for sign, rows in parts:
        for row in rows:
            index = None if row.bucket == _NO_INDEX else int(row.bucket)
            counts[row.stage][index] += sign * int(row.n)
    return {stage: {i: n for i, n in by.items() if n} for stage, by in counts.items()}
