"""kpi_set_aside: the store records the projections could not hold, and re-projecting one (redrive).

Everything runs on an asyncpg connection inside the caller's transaction, which holds the checkpoint's row
lock (`projection_store.lock_checkpoint`), so a running projector and a redrive take turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.projection_store import write_rows
from services.kpi.adapters.store_reads import read_records, read_stream
from services.kpi.adapters.summary_store import Delta
from services.kpi.domain.projection_batch import Changes


@dataclass(frozen=True, slots=True)
class SetAsideRow:
    position: int
    lead_id: str
    event_type: str
    reason: str
    set_aside_at: datetime


async def set_aside(conn: asyncpg.Connection, position: int, reason: str) -> SetAsideRow:
    """Records the store record at `position` with the reason (a second time: the newer reason)."""
    row = await conn.fetchrow(
        "INSERT INTO kpi_set_aside (position, lead_id, event_type, reason) "
        "SELECT position, lead_id, type, $2 FROM lead_events WHERE position = $1 "
        "ON CONFLICT (position) DO UPDATE SET reason = excluded.reason, set_aside_at = now() "
        "RETURNING position, lead_id, event_type, reason, set_aside_at",
        position,
        reason,
    )
    if row is None:
        raise LookupError(f"no store record at position {position}")
    return SetAsideRow(**dict(row))


async def entries(conn: asyncpg.Connection, positions: list[int] | None = None) -> list[SetAsideRow]:
    rows = await conn.fetch(
        "SELECT position, lead_id, event_type, reason, set_aside_at FROM kpi_set_aside "
        "WHERE $1::bigint[] IS NULL OR position = ANY($1::bigint[]) ORDER BY position",
        positions,
    )
    return [SetAsideRow(**dict(r)) for r in rows]


async def re_project(conn: asyncpg.Connection, position: int, checkpoint: int, model: StageModel) -> bool:
    """Projects the set-aside record at `position` as if it had been projected in order, and deletes its row;
    False when it is not (or no longer) set aside.

    Revenue, feedback and transition rows are keyed by position and go in as they are. The record's lead's
    stays are folded again from its stream up to the checkpoint, this record included (the fold gives the
    same rows wherever batches are cut, so this is what the projector would have written in order); the
    summaries follow through `Delta`, as in a batch. Raises what the projection raises if it still fails.
    """
    if not await conn.fetchval("SELECT true FROM kpi_set_aside WHERE position = $1 FOR UPDATE", position):
        return False
    (record,) = await read_records(conn, position - 1, 1, position)
    partners = [str(record.event.get(k)) for k in ("survivor_id", "absorbed_id") if record.event.get(k)]
    delta = Delta([record.lead_id, *partners])
    await delta.before(conn)
    await conn.execute("DELETE FROM kpi_stays WHERE lead_id = $1", record.lead_id)
    changes = Changes().add_records(await read_stream(conn, record.lead_id, checkpoint, position), model)
    await write_rows(conn, changes, flows=True)
    await delta.after(conn)
    await conn.execute("DELETE FROM kpi_set_aside WHERE position = $1", position)
    return True
