"""The exact picks of medians and p90s per slice (queries_summaries_stays.py): the rows of every (stage, bucket)
or (stage, day) some pick needs, each with its slice, ranked within (cell, slice) in one pass, so a value is
looked up once per row of those cells, not once per row per pick. `{key}` and `{where}`: the scope's SQL.
`OFFSET 0` keeps each cell's rows an index range read (flattened, the planner would scan every stay once and
test it against every cell); cells are numbered and slices compared bytewise (COLLATE "C"), so the ranking sorts
cheap keys. A slice is never null here (sliced by a value, '' for none)."""

from __future__ import annotations

from services.kpi.adapters.summary_store import BUCKET, ENDED

ENDED_SLICED_PICKS = f"""
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:stages AS text[]), CAST(:buckets AS int[]), CAST(:skips AS int[]),
                             CAST(:ids AS int[]), CAST(:slices AS text[])) AS p(stage, bucket, skip, i, slice)
    ), cells AS (
        SELECT stage, bucket, row_number() OVER () AS cell FROM (SELECT DISTINCT stage, bucket FROM wanted) d
    ), ranked AS (
        SELECT c.cell, r.slice, r.value,
               row_number() OVER (PARTITION BY c.cell, r.slice ORDER BY r.value) - 1 AS k
        FROM cells c CROSS JOIN LATERAL (
            SELECT {{key}} COLLATE "C" AS slice, {ENDED} - since AS value FROM kpi_stays s
            WHERE stage = c.stage AND exit_kind = 'transition' AND {BUCKET} = c.bucket
            AND {ENDED} >= :start AND {ENDED} < :end AND {{where}} OFFSET 0
        ) r
    )
    SELECT w.i, r.value FROM wanted w JOIN cells c ON c.stage = w.stage AND c.bucket = w.bucket
    JOIN ranked r ON r.cell = c.cell AND r.slice = w.slice AND r.k = w.skip
"""
OPEN_SLICED_PICKS = """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:stages AS text[]), CAST(:starts AS timestamptz[]), CAST(:skips AS int[]),
                             CAST(:ids AS int[]), CAST(:slices AS text[])) AS p(stage, day_start, skip, i, slice)
    ), cells AS (
        SELECT stage, day_start, row_number() OVER () AS cell FROM (SELECT DISTINCT stage, day_start FROM wanted) d
    ), ranked AS (
        SELECT c.cell, r.slice, r.value,
               row_number() OVER (PARTITION BY c.cell, r.slice ORDER BY r.value DESC) - 1 AS k
        FROM cells c CROSS JOIN LATERAL (
            SELECT {key} COLLATE "C" AS slice, since AS value FROM kpi_stays s WHERE stage = c.stage
            AND exited_at IS NULL AND since >= c.day_start AND since < c.day_start + interval '1 day' AND {where}
            OFFSET 0
        ) r
    )
    SELECT w.i, r.value FROM wanted w JOIN cells c ON c.stage = w.stage AND c.day_start = w.day_start
    JOIN ranked r ON r.cell = c.cell AND r.slice = w.slice AND r.k = w.skip
"""

# The open stays' day rows of each value of a bounded dimension (ages per slice): many rows (a year of days per
# stage and value), read straight through the driver, without SQLAlchemy's per-row cost.
OPEN_DAYS_BY_VALUE = (
    "SELECT value, stage, day, sum(n)::bigint AS n FROM kpi_slice_day_counts WHERE dimension = $1 AND kind = 'open' "
    "AND stage = ANY($2::text[]) AND ($3::text[] IS NULL OR value = ANY($3::text[])) GROUP BY 1, 2, 3"
)
