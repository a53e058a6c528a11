"""Reading the event store (`lead_events`) by position, as the projector, the rebuild and redrive do."""

from __future__ import annotations

import asyncpg
import orjson

from services.kpi.domain.projection import LeadEventRecord


async def store_head(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(position), 0) FROM lead_events"))


async def read_records(
    conn: asyncpg.Connection, after: int, limit: int, upto: int | None = None, *, skip_set_aside: bool = False
) -> list[LeadEventRecord]:
    """Records after `after` in position order. Safe against late commits because the engine assigns
    positions under a lock held to commit (adapters/store.py): every row below a visible one is visible.
    A batch never ends between the two halves of a merge, so readers never see the person twice (unless
    `upto` cuts it). `skip_set_aside`: leave out the records in kpi_set_aside (the rebuild; the live
    projector's set-aside records all lie behind its checkpoint)."""
    records = await _read(conn, after, limit, upto, skip_set_aside)
    while len(records) == limit and is_survivor_merge(records[-1]):
        more = await _read(conn, records[-1].position, 1, upto, skip_set_aside)
        if not more:
            break
        records += more
    return records


_READ = (
    "SELECT position, lead_id, version, data::text AS data FROM lead_events "
    "WHERE position > $1 AND ($3::bigint IS NULL OR position <= $3) {skip} ORDER BY position LIMIT $2"
)
_SKIP = "AND NOT EXISTS (SELECT 1 FROM kpi_set_aside a WHERE a.position = lead_events.position)"


async def _read(
    conn: asyncpg.Connection, after: int, limit: int, upto: int | None, skip_set_aside: bool
) -> list[LeadEventRecord]:
    rows = await conn.fetch(_READ.format(skip=_SKIP if skip_set_aside else ""), after, limit, upto)
    return [LeadEventRecord(r["position"], r["lead_id"], r["version"], orjson.loads(r["data"])) for r in rows]


def is_survivor_merge(record: LeadEventRecord) -> bool:
    return record.event.get("type") == "LeadsMerged" and record.event.get("role") == "survivor"


async def read_stream(conn: asyncpg.Connection, lead_id: str, upto: int, including: int) -> list[LeadEventRecord]:
    """The records of one lead up to position `upto` that the projections hold, and the one at `including`
    (a set-aside record being re-projected), in position order."""
    rows = await conn.fetch(
        "SELECT position, lead_id, version, data::text AS data FROM lead_events e WHERE lead_id = $1 "
        "AND position <= $2 AND (position = $3 OR NOT EXISTS "
        "(SELECT 1 FROM kpi_set_aside a WHERE a.position = e.position)) ORDER BY position",
        lead_id,
        upto,
        including,
    )
    return [LeadEventRecord(r["position"], r["lead_id"], r["version"], orjson.loads(r["data"])) for r in rows]
