"""Each lead's dimension values (kpi_lead_values) and the order values were first seen (kpi_dimension_values).

A lead's values in the projections are its **person's**: the values of the live lead at the end of its
`merged_into` chain. A batch writes the values its DimensionsSet and merges set (`Changes.values`), then copies
the values of every person they belong to onto the leads merged into that person, so the absorbed halves of a
merge, and their earlier rows, count in the survivor's slice. kpi_dimension_values keeps the first store
position of every (dimension, value): the first `max_values` values of a bounded dimension are its label
values (docs/observability.md "Slices"). Both are functions of the store's order, so a rebuild gives the same.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from services.kpi.domain.projection_batch import Changes

# The chain ends (live leads) of the given leads, and every lead merged into them (depth > 0).
MEMBERS = """
WITH RECURSIVE up(lead_id, depth) AS (
    SELECT unnest($1::text[]), 0
    UNION ALL
    SELECT l.merged_into, up.depth + 1 FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id
    WHERE l.merged_into IS NOT NULL AND up.depth < 64
), persons AS (
    SELECT DISTINCT l.lead_id FROM up JOIN kpi_leads l ON l.lead_id = up.lead_id WHERE l.merged_into IS NULL
), members(person, lead_id, depth) AS (
    SELECT lead_id, lead_id, 0 FROM persons
    UNION ALL
    SELECT m.person, l.lead_id, m.depth + 1 FROM members m JOIN kpi_leads l ON l.merged_into = m.lead_id
    WHERE m.depth < 64
)
"""
_SHARE = (
    MEMBERS + "INSERT INTO kpi_lead_values (lead_id, dimension, value) "
    "SELECT m.lead_id, v.dimension, v.value FROM members m JOIN kpi_lead_values v ON v.lead_id = m.person "
    "WHERE m.depth > 0 ON CONFLICT (lead_id, dimension) DO UPDATE SET value = excluded.value "
    "WHERE kpi_lead_values.value <> excluded.value"
)
_UPSERT = (
    "INSERT INTO kpi_lead_values (lead_id, dimension, value) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (lead_id, dimension) "
    "DO UPDATE SET value = excluded.value WHERE kpi_lead_values.value <> excluded.value"
)
_FIRST_SEEN = (
    "INSERT INTO kpi_dimension_values (dimension, value, position) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT (dimension, value) DO UPDATE "
    "SET position = excluded.position WHERE excluded.position < kpi_dimension_values.position"
)


# A stay's `slices`: its lead's values of the bounded dimensions $N (kpi_lead_values holds its person's).
STAMP = (
    "coalesce((SELECT jsonb_object_agg(v.dimension, v.value) FROM kpi_lead_values v "
    "WHERE v.lead_id = {lead} AND v.dimension = ANY($14::text[])), '{{}}'::jsonb)"
)
_RESTAMP = (
    MEMBERS + "UPDATE kpi_stays s SET slices = x.slices FROM (SELECT DISTINCT m.lead_id, coalesce((SELECT "
    "jsonb_object_agg(v.dimension, v.value) FROM kpi_lead_values v WHERE v.lead_id = m.lead_id "
    "AND v.dimension = ANY($2::text[])), '{}'::jsonb) AS slices FROM members m) x "
    "WHERE s.lead_id = x.lead_id AND s.slices IS DISTINCT FROM x.slices"
)


async def restamp(conn: asyncpg.Connection, leads: Iterable[str], dimensions: Iterable[str]) -> None:
    """The stays of every lead of these leads' persons carry the persons' values again (after a value change)."""
    wanted, dims = sorted(set(leads)), list(dimensions)
    if wanted and dims:
        await conn.execute(_RESTAMP, wanted, dims)


async def stamp_all(conn: asyncpg.Connection, dimensions: Iterable[str]) -> None:
    """Every stay (a model with other bounded dimensions, or the stays written before migration 0011)."""
    await conn.execute(
        "UPDATE kpi_stays s SET slices = coalesce((SELECT jsonb_object_agg(v.dimension, v.value) "
        "FROM kpi_lead_values v WHERE v.lead_id = s.lead_id AND v.dimension = ANY($1::text[])), '{}'::jsonb)",
        list(dimensions),
    )


async def members_of_persons(conn: asyncpg.Connection, leads: Iterable[str]) -> list[str]:
    """Every lead of the persons the given leads belong to (the persons themselves included)."""
    wanted = sorted(set(leads))
    if not wanted:
        return []
    return [r[0] for r in await conn.fetch(MEMBERS + "SELECT DISTINCT lead_id FROM members", wanted)]


async def write_values(conn: asyncpg.Connection, c: Changes) -> None:
    """After the batch's lead rows (merged_into) are written: the values set, then shared with the members."""
    if not c.values:
        return
    rows = sorted((lead, dim, value) for lead, values in c.values.items() for dim, value in values.items())
    await conn.execute(_UPSERT, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    await conn.execute(_SHARE, sorted(c.values))
    seen = sorted((dim, value, position) for (dim, value), position in c.first_seen.items())
    await conn.execute(_FIRST_SEEN, [s[0] for s in seen], [s[1] for s in seen], [s[2] for s in seen])
