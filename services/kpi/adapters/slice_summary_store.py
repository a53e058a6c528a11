"""The summaries per slice of each bounded dimension (kpi_slice_day_counts, kpi_slice_flow_days), kept exact.

The same rows as summary_store.py's, once per (bounded dimension, value of the lead's person; '' for none). A
lead's slice changes when its person's value does (a DimensionsSet, a merge): so besides the leads a batch
touches, every lead of the persons whose values the batch sets is taken out before the writes and added back
after, with its flows (the transitions of those leads; the batch's new transitions are added after the writes,
so they land in the final slice). `refresh_slices` computes them all at once (the rebuild, a new model's
bounded dimensions). The marker row (kind 'sliced', stage = the dimensions, comma-separated) says for which
dimensions they are kept; the projector refreshes when the model's differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.kpi.adapters.dimension_store import members_of_persons, stamp_all
from services.kpi.adapters.summary_store import PERSONS, STAY_KINDS, day

SLICED_MARKER = "sliced"
# The slice of a row of lead `{lead}` in each bounded dimension $2.
_SLICE = (
    "CROSS JOIN unnest($2::text[]) AS d(dimension) "
    "LEFT JOIN kpi_lead_values v ON v.lead_id = {lead} AND v.dimension = d.dimension"
)
_STAY_ROWS = (
    "SELECT d.dimension, coalesce(v.value, '') AS value, k.kind, s.stage, k.day, k.bucket, count(*) AS n "
    f"FROM kpi_stays s {STAY_KINDS} {_SLICE.format(lead='s.lead_id')} "
    "WHERE k.applies AND {where} GROUP BY 1, 2, 3, 4, 5, 6"
)
_PERSON_ROWS = (
    PERSONS
    + f"""
SELECT d.dimension, coalesce(v.value, '') AS value, 'cohort' AS kind, e.stage, {day("e.at")} AS day,
       e.furthest AS bucket, count(*) AS n
FROM entries e {_SLICE.format(lead="e.person")} GROUP BY 1, 2, 3, 4, 5, 6
UNION ALL
SELECT d.dimension, coalesce(v.value, ''), 'reach', '', DATE '1970-01-01', l.furthest_index, count(*)
FROM kpi_leads l {_SLICE.format(lead="l.lead_id")}
WHERE l.merged_into IS NULL AND l.furthest_index IS NOT NULL AND {{persons}} GROUP BY 1, 2, 3, 4, 5, 6
"""
)
_ADD = (
    "INSERT INTO kpi_slice_day_counts AS c (dimension, value, kind, stage, day, bucket, n) "
    "SELECT dimension, value, kind, stage, day, bucket, {sign} * n FROM ({rows}) r "
    "ON CONFLICT (dimension, value, kind, stage, day, bucket) DO UPDATE SET n = c.n + excluded.n"
)
_FLOWS = (
    "INSERT INTO kpi_slice_flow_days AS f (dimension, value, day, from_stage, to_stage, n) "
    f"SELECT d.dimension, coalesce(v.value, ''), {day('t.occurred_at')}, coalesce(t.from_stage, ''), t.to_stage, "
    f"{{sign}} * count(*) FROM kpi_transitions t {_SLICE.format(lead='t.lead_id')} WHERE {{where}} "
    "GROUP BY 1, 2, 3, 4, 5 "
    "ON CONFLICT (dimension, value, day, from_stage, to_stage) DO UPDATE SET n = f.n + excluded.n"
)
_RESOLVE = (
    "WITH RECURSIVE up(lead_id, depth) AS (SELECT unnest($1::text[]), 0 UNION ALL SELECT l.merged_into, up.depth + 1 "
    "FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id WHERE l.merged_into IS NOT NULL AND up.depth < 64) "
    "SELECT DISTINCT l.lead_id FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id WHERE l.merged_into IS NULL"
)


def marker_stage(dimensions: Sequence[str]) -> str:
    return ",".join(dimensions)


async def slices_ready(conn: asyncpg.Connection, dimensions: Sequence[str]) -> bool:
    """Kept for exactly these bounded dimensions (none: nothing to keep)."""
    return not dimensions or bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM kpi_day_counts WHERE kind = $1 AND stage = $2)",
            SLICED_MARKER,
            marker_stage(dimensions),
        )
    )


class SliceDelta:
    """One batch's maintenance of the sliced summaries: `before` the projection writes, `after` them."""

    def __init__(self, dimensions: Sequence[str], touched: Iterable[str], revalued: Iterable[str]) -> None:
        self.dimensions = list(dimensions)
        self.touched = set(touched)
        self.revalued = sorted(set(revalued))  # leads whose person's values the batch sets
        self.leads: list[str] = []
        self.moved: list[str] = []
        self.persons: list[str] = []
        self.new_from: int | None = None

    async def before(self, conn: asyncpg.Connection, new_from: int | None) -> None:
        """`new_from`: the transitions at this position and after are the batch's own (None: only the moved
        leads' transitions change, as in a redrive, whose lead is among them)."""
        self.new_from = new_from
        moved = await members_of_persons(conn, self.revalued)  # every lead whose slice may change
        self.moved = sorted(set(moved) | set(self.revalued))
        self.leads = sorted(self.touched | set(self.moved))
        self.persons = [r[0] for r in await conn.fetch(_RESOLVE, self.leads)]
        await self._apply(conn, -1)
        await self._flows(conn, -1, "t.lead_id = ANY($1::text[])")

    async def after(self, conn: asyncpg.Connection) -> None:
        self.persons = [r[0] for r in await conn.fetch(_RESOLVE, self.leads)]
        await self._apply(conn, 1)
        new = "" if self.new_from is None else f" OR t.position >= {int(self.new_from)}"
        await self._flows(conn, 1, f"(t.lead_id = ANY($1::text[]){new})")
        await conn.execute("DELETE FROM kpi_slice_day_counts WHERE n = 0")
        await conn.execute("DELETE FROM kpi_slice_flow_days WHERE n = 0")

    async def _apply(self, conn: asyncpg.Connection, sign: int) -> None:
        stays = _STAY_ROWS.format(where="s.lead_id = ANY($1::text[])")
        await conn.execute(_ADD.format(sign=sign, rows=stays), self.leads, self.dimensions)
        rows = _PERSON_ROWS.format(persons="l.lead_id = ANY($1::text[])")
        await conn.execute(_ADD.format(sign=sign, rows=rows), self.persons, self.dimensions)

    async def _flows(self, conn: asyncpg.Connection, sign: int, where: str) -> None:
        await conn.execute(_FLOWS.format(sign=sign, where=where), self.moved, self.dimensions)


async def refresh_slices(conn: asyncpg.Connection, dimensions: Sequence[str], *, stamp: bool = False) -> None:
    """Every sliced summary from the projection tables; sets the marker for `dimensions`. `stamp`: the stays'
    values of the bounded dimensions first (the batches keep them; a new set of dimensions needs them all)."""
    if stamp:
        await stamp_all(conn, dimensions)
    await conn.execute("DELETE FROM kpi_slice_day_counts")
    await conn.execute("DELETE FROM kpi_slice_flow_days")
    await conn.execute("DELETE FROM kpi_day_counts WHERE kind = $1", SLICED_MARKER)
    if not dimensions:
        return
    dims = list(dimensions)
    await conn.execute(_ADD.format(sign=1, rows=_STAY_ROWS.format(where="$1::int IS NULL")), None, dims)
    await conn.execute(_ADD.format(sign=1, rows=_PERSON_ROWS.format(persons="$1::int IS NULL")), None, dims)
    await conn.execute(_FLOWS.format(sign=1, where="$1::int IS NULL"), None, dims)
    await conn.execute(
        "INSERT INTO kpi_day_counts (kind, stage, day, bucket, n) VALUES ($1, $2, DATE '1970-01-01', 0, 1)",
        SLICED_MARKER,
        marker_stage(dims),
    )
    await conn.execute("ANALYZE kpi_slice_day_counts, kpi_slice_flow_days")  # written at once: fresh statistics
