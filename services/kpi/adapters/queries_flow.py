"""Flow queries over kpi_transitions and kpi_leads: inflow, outflow, cohorts, reached.

Every query filters `to_stage = ANY(:stages)` or `from_stage = ANY(:stages)` with a range on `occurred_at`,
so PostgreSQL walks ix_kpi_transitions_to / ix_kpi_transitions_from over the period only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.domain.periods import Period

_INFLOW = text(
    "SELECT to_stage, count(*) AS n FROM kpi_transitions "
    "WHERE to_stage = ANY(:stages) AND occurred_at >= :start AND occurred_at < :end GROUP BY to_stage"
)
# New leads' first stages (from_stage null): ix_kpi_transitions_from with `from_stage IS NULL`.
_FIRST = text(
    "SELECT to_stage, count(*) AS n FROM kpi_transitions "
    "WHERE from_stage IS NULL AND occurred_at >= :start AND occurred_at < :end GROUP BY to_stage"
)
_OUTFLOW = text(
    "SELECT from_stage, to_stage, count(*) AS n FROM kpi_transitions "
    "WHERE from_stage = ANY(:stages) AND occurred_at >= :start AND occurred_at < :end "
    "GROUP BY from_stage, to_stage"
)
# Persons who entered each stage in P: each lead resolved along merged_into to the lead that carries the person
# now (a chain ends at a row with merged_into null), counted once per stage, by their furthest index now.
# Most leads were never merged: they are counted straight away; only the merged ones walk their chain, and a
# survivor is not counted twice when it entered the stage itself too.
_COHORT = text(
    """
    WITH RECURSIVE direct AS MATERIALIZED (
        SELECT c.stage, c.lead_id, l.merged_into, l.furthest_index FROM (
            SELECT DISTINCT to_stage AS stage, lead_id FROM kpi_transitions
            WHERE to_stage = ANY(:stages) AND occurred_at >= :start AND occurred_at < :end
        ) c JOIN kpi_leads l ON l.lead_id = c.lead_id
    ), chain AS (
        SELECT d.stage, d.merged_into AS lead_id, 0 AS depth FROM direct d WHERE d.merged_into IS NOT NULL
        UNION ALL
        SELECT ch.stage, l.merged_into, ch.depth + 1
        FROM chain ch JOIN kpi_leads l ON l.lead_id = ch.lead_id
        WHERE l.merged_into IS NOT NULL AND ch.depth < 64
    ), resolved AS (
        SELECT DISTINCT ch.stage, l.lead_id, l.furthest_index
        FROM chain ch JOIN kpi_leads l ON l.lead_id = ch.lead_id WHERE l.merged_into IS NULL
    )
    SELECT stage, furthest_index, count(*) AS n FROM direct WHERE merged_into IS NULL GROUP BY stage, furthest_index
    UNION ALL
    SELECT r.stage, r.furthest_index, count(*) FROM resolved r
    WHERE NOT EXISTS (SELECT 1 FROM direct d WHERE d.stage = r.stage AND d.lead_id = r.lead_id)
    GROUP BY r.stage, r.furthest_index
    """
)
_REACHED = text(
    "SELECT furthest_index, count(*) AS n FROM kpi_leads "
    "WHERE merged_into IS NULL AND furthest_index IS NOT NULL GROUP BY furthest_index"
)


def _window(stages: Sequence[str], period: Period) -> dict[str, object]:
    return {"stages": list(stages), "start": period.start, "end": period.end}


async def inflow(conn: AsyncConnection, stages: Sequence[str], period: Period) -> dict[str, int]:
    """stage -> transitions into it in P (index-only: ix_kpi_transitions_to)."""
    return {row.to_stage: int(row.n) for row in await conn.execute(_INFLOW, _window(stages, period))}


async def first_entries(conn: AsyncConnection, period: Period) -> dict[str, int]:
    """stage -> new leads whose first stage it was, in P."""
    params = {"start": period.start, "end": period.end}
    return {row.to_stage: int(row.n) for row in await conn.execute(_FIRST, params)}


async def outflow(conn: AsyncConnection, stages: Sequence[str], period: Period) -> dict[str, dict[str, int]]:
    """stage -> destination -> transitions out of it in P."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for row in await conn.execute(_OUTFLOW, _window(stages, period)):
        found[row.from_stage][row.to_stage] = int(row.n)
    return dict(found)


async def cohort_furthest(
    conn: AsyncConnection, stages: Sequence[str], period: Period
) -> dict[str, dict[int | None, int]]:
    """stage -> furthest success-path index now -> persons who entered the stage in P."""
    found: dict[str, dict[int | None, int]] = defaultdict(dict)
    for row in await conn.execute(_COHORT, _window(stages, period)):
        found[row.stage][row.furthest_index] = found[row.stage].get(row.furthest_index, 0) + int(row.n)
    return dict(found)


async def reached_by_furthest(conn: AsyncConnection) -> dict[int, int]:
    """furthest success-path index -> leads not merged away (reached(S) = sum over indexes >= S's)."""
    return {int(row.furthest_index): int(row.n) for row in await conn.execute(_REACHED)}
