"""The summary tables (tables.py: kpi_day_counts, kpi_flow_days, kpi_cohort_repeats), kept exact.

Every summary row is a sum of *contributions*: of a stay (by its lead) or of a person (a live lead with the
leads merged into it). A batch changes the stays of the leads it touches and the persons they belong to, so
the projector subtracts what those leads and persons contributed before its writes and adds what they
contribute after, in the batch's transaction (`Delta`). Flows are insert-only: the inserted transitions are
added. `refresh` computes everything from the projection tables at once (the rebuild, and the first batch
after migration 0005). The marker row (kind 'kept') in kpi_day_counts says the summaries are kept; the API
reads them only then. Rows that sum to 0 are deleted, so live and rebuilt tables are identical.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

# The row that says the summaries are kept (written with them by `refresh`; gone with them).
MARKER = "kept"
MARKER_ROW = f"kind = '{MARKER}'"
DAY = "(({col}) AT TIME ZONE 'UTC')::date"
# A stay's end (when left by a transition) and its duration bucket: 8 per decade of microseconds. The same
# expressions as the index ix_kpi_stays_ended (migration 0005), so the exact picks read that index.
ENDED = "coalesce(left_at, exited_at)"
BUCKET = "floor(log(greatest(extract(epoch from coalesce(left_at, exited_at) - since) * 1000000, 1)::float8) * 8)::int"
# A stay that held its deadline unmet (queries_stays._BREACHES, without the period).
BREACH = (
    "s.sla_due_at IS NOT NULL AND s.entered_at <= s.sla_due_at AND (s.exited_at IS NULL OR s.exited_at > s.sla_due_at) "
    "AND (s.sla_met_at IS NULL OR s.sla_met_at > s.sla_due_at)"
)


def day(column: str) -> str:
    return DAY.format(col=column)


# (kind, day, bucket, applies) of one stay `s`.
STAY_KINDS = f"""CROSS JOIN LATERAL (VALUES
    ('entered', {day("s.entered_at")}, 0, true),
    ('exited', {day("s.exited_at")}, 0, s.exited_at IS NOT NULL),
    ('open', {day("s.since")}, 0, s.exited_at IS NULL),
    ('overdue', {day("s.sla_due_at")}, 0, s.exited_at IS NULL AND s.sla_met_at IS NULL AND s.sla_due_at IS NOT NULL),
    ('breach', {day("s.sla_due_at")}, 0, {BREACH}),
    ('ended', {day(ENDED)}, CASE WHEN s.exit_kind = 'transition' THEN {BUCKET} END, s.exit_kind = 'transition')
) AS k(kind, day, bucket, applies)"""
# `{where}` picks the stays.
_STAY_ROWS = (
    "SELECT k.kind, s.stage, k.day, k.bucket, count(*) AS n FROM kpi_stays s "
    + STAY_KINDS
    + " WHERE k.applies AND {where} GROUP BY 1, 2, 3, 4"
)
# The persons `{persons}` (live leads) with every lead merged into them, their entries by a transition. (Not
# `s.entry_kind = 'transition'`: the planner would AND the whole partial index ix_kpi_stays_entry_since into
# each lead's key lookup.)
PERSONS = """
WITH RECURSIVE members(person, lead_id, depth) AS (
    SELECT l.lead_id, l.lead_id, 0 FROM kpi_leads l WHERE l.merged_into IS NULL AND {persons}
    UNION ALL
    SELECT m.person, l.lead_id, m.depth + 1 FROM members m JOIN kpi_leads l ON l.merged_into = m.lead_id
    WHERE m.depth < 64
), entries AS (
    SELECT m.person, s.stage, s.since AS at, coalesce(p.furthest_index, -1) AS furthest
    FROM members m JOIN kpi_stays s ON s.lead_id = m.lead_id AND coalesce(s.entry_kind, '') = 'transition'
    JOIN kpi_leads p ON p.lead_id = m.person
)
"""
_PERSON_ROWS = (
    PERSONS
    + f"""
SELECT 'cohort' AS kind, stage, {day("at")} AS day, furthest AS bucket, count(*) AS n FROM entries GROUP BY 2, 3, 4
UNION ALL
SELECT 'reach', '', DATE '1970-01-01', l.furthest_index, count(*) FROM kpi_leads l
WHERE l.merged_into IS NULL AND l.furthest_index IS NOT NULL AND {{persons}} GROUP BY 4
"""
)
_REPEATS = (
    PERSONS
    + """
SELECT person, stage, at, prev_at, furthest, count(*) FROM (
    SELECT person, stage, at, furthest, lag(at) OVER (PARTITION BY person, stage ORDER BY at) AS prev_at FROM entries
) e WHERE prev_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5
"""
)
_ADD = (
    "INSERT INTO kpi_day_counts AS d (kind, stage, day, bucket, n) SELECT kind, stage, day, bucket, {sign} * n "
    "FROM ({rows}) r ON CONFLICT (kind, stage, day, bucket) DO UPDATE SET n = d.n + excluded.n"
)
# The chain ends (live leads) of the given leads: who they are part of now.
_RESOLVE = """
WITH RECURSIVE up(lead_id, depth) AS (
    SELECT unnest($1::text[]), 0
    UNION ALL
    SELECT l.merged_into, up.depth + 1 FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id
    WHERE l.merged_into IS NOT NULL AND up.depth < 64
)
SELECT DISTINCT l.lead_id FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id WHERE l.merged_into IS NULL
"""
FLOWS_FROM_INSERTED = (
    "INSERT INTO kpi_flow_days AS f (day, from_stage, to_stage, n) "
    f"SELECT {day('occurred_at')}, coalesce(from_stage, ''), to_stage, count(*) FROM inserted GROUP BY 1, 2, 3 "
    "ON CONFLICT (day, from_stage, to_stage) DO UPDATE SET n = f.n + excluded.n"
)


async def ready(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM kpi_day_counts WHERE {MARKER_ROW})"))


class Delta:
    """One batch's summary maintenance: `before` the projection writes, `after` them (same transaction)."""

    def __init__(self, leads: Iterable[str]) -> None:
        self.leads = sorted(set(leads))
        self.persons: list[str] = []

    async def before(self, conn: asyncpg.Connection) -> None:
        self.persons = [r[0] for r in await conn.fetch(_RESOLVE, self.leads)]
        await self._apply(conn, -1)
        await conn.execute("DELETE FROM kpi_cohort_repeats WHERE person_id = ANY($1::text[])", self.persons)

    async def after(self, conn: asyncpg.Connection) -> None:
        before = set(self.persons)
        self.persons = [r[0] for r in await conn.fetch(_RESOLVE, self.leads)]
        await conn.execute(
            "DELETE FROM kpi_cohort_repeats WHERE person_id = ANY($1::text[])", sorted(set(self.persons) - before)
        )
        await self._apply(conn, 1)
        await conn.execute("DELETE FROM kpi_day_counts WHERE n = 0")

    async def _apply(self, conn: asyncpg.Connection, sign: int) -> None:
        stays = _STAY_ROWS.format(where="s.lead_id = ANY($1::text[])")
        await conn.execute(_ADD.format(sign=sign, rows=stays), self.leads)
        rows = _PERSON_ROWS.format(persons="l.lead_id = ANY($1::text[])")
        await conn.execute(_ADD.format(sign=sign, rows=rows), self.persons)
        if sign > 0:
            await conn.execute(
                "INSERT INTO kpi_cohort_repeats (person_id, stage, at, prev_at, furthest_index, n) "
                + _REPEATS.format(persons="l.lead_id = ANY($1::text[])"),
                self.persons,
            )


async def refresh(conn: asyncpg.Connection) -> None:
    """Every summary from the projection tables (empty summaries first); sets the marker."""
    for table in ("kpi_day_counts", "kpi_flow_days", "kpi_cohort_repeats"):
        await conn.execute(f"DELETE FROM {table}")
    await conn.execute(_ADD.format(sign=1, rows=_STAY_ROWS.format(where="true")))
    await conn.execute(_ADD.format(sign=1, rows=_PERSON_ROWS.format(persons="true")))
    await conn.execute(
        "INSERT INTO kpi_cohort_repeats (person_id, stage, at, prev_at, furthest_index, n) "
        + _REPEATS.format(persons="true")
    )
    await conn.execute(
        "WITH inserted AS (SELECT from_stage, to_stage, occurred_at FROM kpi_transitions) " + FLOWS_FROM_INSERTED
    )
    await conn.execute(
        "INSERT INTO kpi_day_counts (kind, stage, day, bucket, n) VALUES ($1, '', DATE '1970-01-01', 0, 1)", MARKER
    )
