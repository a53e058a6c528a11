"""Flow queries over kpi_transitions and kpi_leads: inflow, outflow, cohorts, reached.

Every query filters `to_stage = ANY(:stages)` or `from_stage = ANY(:stages)` with a range on `occurred_at`,
so PostgreSQL walks ix_kpi_transitions_to / ix_kpi_transitions_from over the period only. Each answers per
slice of the scope (scope.py): a dict by slice key, None when the scope has no `by`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.domain.periods import Period

Slice = str | None

_INFLOW = (
    "SELECT {key} AS slice, to_stage, count(*) AS n FROM kpi_transitions t "
    "WHERE to_stage = ANY(:stages) AND occurred_at >= :start AND occurred_at < :end AND {where} GROUP BY 1, 2"
)
# New leads' first stages (from_stage null): ix_kpi_transitions_from with `from_stage IS NULL`.
_FIRST = (
    "SELECT {key} AS slice, to_stage, count(*) AS n FROM kpi_transitions t "
    "WHERE from_stage IS NULL AND occurred_at >= :start AND occurred_at < :end AND {where} GROUP BY 1, 2"
)
_OUTFLOW = (
    "SELECT {key} AS slice, from_stage, to_stage, count(*) AS n FROM kpi_transitions t "
    "WHERE from_stage = ANY(:stages) AND occurred_at >= :start AND occurred_at < :end AND {where} GROUP BY 1, 2, 3"
)
# Persons who entered each stage in P: each lead resolved along merged_into to the lead that carries the person
# now (a chain ends at a row with merged_into null), counted once per stage, by their furthest index now.
# Most leads were never merged: they are counted straight away; only the merged ones walk their chain, and a
# survivor is not counted twice when it entered the stage itself too. A lead's slice is its person's.
_COHORT = """
    WITH RECURSIVE direct AS MATERIALIZED (
        SELECT c.slice, c.stage, c.lead_id, l.merged_into, l.furthest_index FROM (
            SELECT DISTINCT {key} AS slice, to_stage AS stage, lead_id FROM kpi_transitions t
            WHERE to_stage = ANY(:stages) AND occurred_at >= :start AND occurred_at < :end AND {where}
        ) c JOIN kpi_leads l ON l.lead_id = c.lead_id
    ), chain AS (
        SELECT d.slice, d.stage, d.merged_into AS lead_id, 0 AS depth FROM direct d WHERE d.merged_into IS NOT NULL
        UNION ALL
        SELECT ch.slice, ch.stage, l.merged_into, ch.depth + 1
        FROM chain ch JOIN kpi_leads l ON l.lead_id = ch.lead_id
        WHERE l.merged_into IS NOT NULL AND ch.depth < 64
    ), resolved AS (
        SELECT DISTINCT ch.slice, ch.stage, l.lead_id, l.furthest_index
        FROM chain ch JOIN kpi_leads l ON l.lead_id = ch.lead_id WHERE l.merged_into IS NULL
    )
    SELECT slice, stage, furthest_index, count(*) AS n FROM direct WHERE merged_into IS NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT r.slice, r.stage, r.furthest_index, count(*) FROM resolved r
    WHERE NOT EXISTS (SELECT 1 FROM direct d WHERE d.stage = r.stage AND d.lead_id = r.lead_id)
    GROUP BY 1, 2, 3
"""
_REACHED = (
    "SELECT {key} AS slice, furthest_index, count(*) AS n FROM kpi_leads l "
    "WHERE merged_into IS NULL AND furthest_index IS NOT NULL AND {where} GROUP BY 1, 2"
)


def _window(stages: Sequence[str], period: Period, scope: Scope) -> dict[str, object]:
    return scope.bind({"stages": list(stages), "start": period.start, "end": period.end})


async def inflow(
    conn: AsyncConnection, stages: Sequence[str], period: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[str, int]]:
    """slice -> stage -> transitions into it in P (index-only over ix_kpi_transitions_to when unsliced)."""
    found: dict[Slice, dict[str, int]] = defaultdict(dict)
    for row in await conn.execute(scope.sql(_INFLOW, "t.lead_id"), _window(stages, period, scope)):
        found[row.slice][row.to_stage] = int(row.n)
    return dict(found)


async def first_entries(conn: AsyncConnection, period: Period, scope: Scope = WHOLE) -> dict[Slice, dict[str, int]]:
    """slice -> stage -> new leads whose first stage it was, in P."""
    found: dict[Slice, dict[str, int]] = defaultdict(dict)
    params = scope.bind({"start": period.start, "end": period.end})
    for row in await conn.execute(scope.sql(_FIRST, "t.lead_id"), params):
        found[row.slice][row.to_stage] = int(row.n)
    return dict(found)


async def outflow(
    conn: AsyncConnection, stages: Sequence[str], period: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[str, dict[str, int]]]:
    """slice -> stage -> destination -> transitions out of it in P."""
    found: dict[Slice, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in await conn.execute(scope.sql(_OUTFLOW, "t.lead_id"), _window(stages, period, scope)):
        found[row.slice][row.from_stage][row.to_stage] = int(row.n)
    return {key: dict(by) for key, by in found.items()}


async def cohort_furthest(
    conn: AsyncConnection, stages: Sequence[str], period: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[str, dict[int | None, int]]]:
    """slice -> stage -> furthest success-path index now -> persons who entered the stage in P."""
    found: dict[Slice, dict[str, dict[int | None, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in await conn.execute(scope.sql(_COHORT, "t.lead_id"), _window(stages, period, scope)):
        by = found[row.slice][row.stage]
        by[row.furthest_index] = by.get(row.furthest_index, 0) + int(row.n)
    return {key: dict(by) for key, by in found.items()}


async def reached_by_furthest(conn: AsyncConnection, scope: Scope = WHOLE) -> dict[Slice, dict[int, int]]:
    """slice -> furthest success-path index -> leads not merged away (reached(S) = sum over indexes >= S's)."""
    found: dict[Slice, dict[int, int]] = defaultdict(dict)
    for row in await conn.execute(scope.sql(_REACHED, "l.lead_id"), scope.bind({})):
        found[row.slice][int(row.furthest_index)] = int(row.n)
    return dict(found)
