"""The /v1/kpi/stages numbers read from the summary tables (summary_store.py), exactly as the projection-table
queries (queries_flow/balance/stays) define them; per slice of one bounded dimension from the sliced summaries
(slice_summary_store.py).

A period is cut at UTC midnights: its whole days are summed from per-day rows, and the partial days at either
end ("edges", none when the period starts and ends at UTC midnights) are counted from the projection tables
over their index ranges. Medians and p90 are exact: per-day (or per-bucket) counts find the day (or duration
bucket) that holds each rank, and one index read picks the value at that rank inside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.summary_scope import Slice, Split, SummaryScope, midnight_of
from services.kpi.domain.periods import Period

_NO_INDEX = -1  # a person without a success-path index, as the summaries store it


_FLOW_DAYS = (
    "SELECT {skey} AS slice, from_stage, to_stage, sum(n) AS n FROM {flows} "
    "WHERE day >= :first AND day < :end AND {swhere} GROUP BY 1, 2, 3"
)
_FLOW_EDGE = (
    "SELECT {key} AS slice, coalesce(from_stage, '') AS from_stage, to_stage, count(*) AS n FROM kpi_transitions t "
    "WHERE (to_stage = ANY(:stages) OR from_stage = ANY(:stages)) AND occurred_at >= :start AND occurred_at < :end "
    "AND {where} GROUP BY 1, 2, 3"
)


async def flows(
    conn: AsyncConnection, stages: Sequence[str], period: Period, ss: SummaryScope
) -> tuple[dict[Slice, dict[str, int]], dict[Slice, dict[str, dict[str, int]]]]:
    """(inflow: slice -> stage -> transitions in, outflow: slice -> stage -> destination -> transitions out)."""
    split = Split(period)
    days = {"first": split.first_day, "end": split.end_day}
    rows = list(await conn.execute(text(ss.sql(_FLOW_DAYS)), ss.bind(days)))
    for a, b in split.edges:
        params = ss.scope.bind({"stages": list(stages), "start": a, "end": b})
        rows += await conn.execute(ss.scope.sql(_FLOW_EDGE, "t.lead_id"), params)
    known = set(stages)
    inflow: dict[Slice, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    outflow: dict[Slice, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for row in rows:
        if row.to_stage in known:
            inflow[row.slice][row.to_stage] += int(row.n)
        if row.from_stage in known:
            outflow[row.slice][row.from_stage][row.to_stage] += int(row.n)
    return (
        {key: dict(by) for key, by in inflow.items()},
        {key: {stage: dict(d) for stage, d in by.items()} for key, by in outflow.items()},
    )


_BALANCE_DAYS = (
    "SELECT {skey} AS slice, stage, sum(CASE kind WHEN 'entered' THEN n ELSE -n END) AS n FROM {counts} "
    "WHERE kind IN ('entered', 'exited') AND stage = ANY(:stages) AND day < :day AND {swhere} GROUP BY 1, 2"
)
# Within t's own UTC day, up to t inclusive (a lead counts from entered_at <= t until t < exited_at).
_BALANCE_TODAY = """
    SELECT slice, stage, sum(n) AS n FROM (
        SELECT {key} AS slice, stage, count(*) AS n FROM kpi_stays s
        WHERE stage = ANY(:stages) AND entered_at >= :midnight AND entered_at <= :t AND {where} GROUP BY 1, 2
        UNION ALL
        SELECT {key}, stage, -count(*) FROM kpi_stays s
        WHERE stage = ANY(:stages) AND exited_at >= :midnight AND exited_at <= :t AND {where} GROUP BY 1, 2
    ) parts GROUP BY 1, 2
"""


async def balances_at(
    conn: AsyncConnection, stages: Sequence[str], t: datetime, ss: SummaryScope
) -> dict[Slice, dict[str, int]]:
    midnight = midnight_of(t)
    found: dict[Slice, dict[str, int]] = defaultdict(lambda: dict.fromkeys(stages, 0))
    if not ss.scope.sliced:
        found[None] = dict.fromkeys(stages, 0)
    params = {"stages": list(stages), "day": midnight.date()}
    for row in await conn.execute(text(ss.sql(_BALANCE_DAYS)), ss.bind(params)):
        found[row.slice][row.stage] += int(row.n)
    params = ss.scope.bind({"stages": list(stages), "midnight": midnight, "t": t})
    for row in await conn.execute(ss.scope.sql(_BALANCE_TODAY, "s.lead_id", stay="s"), params):
        found[row.slice][row.stage] += int(row.n)
    return {key: counts for key, counts in found.items() if not ss.scope.sliced or any(counts.values())}


_REACH = "SELECT {skey} AS slice, bucket, sum(n) AS n FROM {counts} WHERE kind = 'reach' AND {swhere} GROUP BY 1, 2"


async def reached_by_furthest(conn: AsyncConnection, ss: SummaryScope) -> dict[Slice, dict[int, int]]:
    found: dict[Slice, dict[int, int]] = defaultdict(dict)
    for row in await conn.execute(text(ss.sql(_REACH)), ss.bind({})):
        found[row.slice][int(row.bucket)] = int(row.n)
    return dict(found)


_COHORT_DAYS = (
    "SELECT {skey} AS slice, stage, bucket, sum(n) AS n FROM {counts} WHERE kind = 'cohort' AND stage = ANY(:stages) "
    "AND day >= :first AND day < :end AND {swhere} GROUP BY 1, 2, 3"
)
# Entries by a transition in an edge, each judged by its person's furthest index: most leads were never
# merged and count at once; the others follow merged_into to the live lead that carries the person now.
_COHORT_EDGE = """
    WITH RECURSIVE entries AS MATERIALIZED (
        SELECT {key} AS slice, s.stage, l.merged_into, l.furthest_index
        FROM kpi_stays s JOIN kpi_leads l ON l.lead_id = s.lead_id
        WHERE s.stage = ANY(:stages) AND s.entry_kind = 'transition' AND s.since >= :start AND s.since < :end
        AND {where}
    ), up(slice, stage, lead_id, depth) AS (
        SELECT slice, stage, merged_into, 1 FROM entries WHERE merged_into IS NOT NULL
        UNION ALL
        SELECT up.slice, up.stage, l.merged_into, up.depth + 1 FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id
        WHERE l.merged_into IS NOT NULL AND up.depth < 64
    )
    SELECT slice, stage, coalesce(furthest_index, -1) AS bucket, count(*) AS n FROM entries
    WHERE merged_into IS NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT up.slice, up.stage, coalesce(l.furthest_index, -1), count(*) FROM up
    JOIN kpi_leads l ON l.lead_id = up.lead_id WHERE l.merged_into IS NULL GROUP BY 1, 2, 3
"""
# Re-entries whose previous entry of the same person was in P too: that person is already counted.
_COHORT_REPEATS = (
    "SELECT {key} AS slice, stage, furthest_index AS bucket, sum(n) AS n FROM kpi_cohort_repeats r "
    "WHERE stage = ANY(:stages) AND at >= :start AND at < :end AND prev_at >= :start AND {where} GROUP BY 1, 2, 3"
)


async def cohort_furthest(
    conn: AsyncConnection, stages: Sequence[str], period: Period, ss: SummaryScope
) -> dict[Slice, dict[str, dict[int | None, int]]]:
    """slice -> stage -> furthest success-path index now -> persons who entered the stage in P."""
    split = Split(period)
    counts: dict[Slice, dict[str, dict[int | None, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    window = {"stages": list(stages), "start": period.start, "end": period.end}
    days = ss.bind({**window, "first": split.first_day, "end": split.end_day})
    parts = [(1, await conn.execute(text(ss.sql(_COHORT_DAYS)), days))]
    for a, b in split.edges:
        edge = ss.scope.bind({**window, "start": a, "end": b})
        parts.append((1, await conn.execute(ss.scope.sql(_COHORT_EDGE, "s.lead_id", stay="s"), edge)))
    parts.append((-1, await conn.execute(ss.scope.sql(_COHORT_REPEATS, "r.person_id"), ss.scope.bind(window))))
    for sign, rows in parts:
        for row in rows:
            index = None if row.bucket == _NO_INDEX else int(row.bucket)
            counts[row.slice][row.stage][index] += sign * int(row.n)
    return {
        key: {stage: {i: n for i, n in by.items() if n} for stage, by in stages_.items()}
        for key, stages_ in counts.items()
    }
