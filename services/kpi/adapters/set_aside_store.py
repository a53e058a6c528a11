"""kpi_set_aside: the store records the projections could not hold (redrive re-projects them: app/set_aside_admin.py).

Everything runs on an asyncpg connection inside the caller's transaction, which holds the checkpoint's row
lock (`projection_store.lock_checkpoint`), so a running projector and a redrive take turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


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


async def lock_entry(conn: asyncpg.Connection, position: int) -> bool:
    """Locks the set-aside row of `position` until the transaction ends; False when there is none."""
    return bool(await conn.fetchval("SELECT true FROM kpi_set_aside WHERE position = $1 FOR UPDATE", position))


async def delete_entry(conn: asyncpg.Connection, position: int) -> None:
    await conn.execute("DELETE FROM kpi_set_aside WHERE position = $1", position)
