"""Which dead letters were redriven (table engine_redrives), keyed by their place on the dead-letter topic."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.stage_engine.adapters.tables import engine_redrives


async def redriven(conn: AsyncConnection, places: Collection[str]) -> set[str]:
    rows = await conn.execute(
        select(engine_redrives.c.dead_letter).where(engine_redrives.c.dead_letter.in_(list(places)))
    )
    return set(rows.scalars())


async def record(conn: AsyncConnection, places: Sequence[str]) -> set[str]:
    """Records the places; returns those not recorded before. In the caller's transaction: a concurrent redrive
    of the same dead letter waits for it, then finds it recorded."""
    if not places:
        return set()
    statement = (
        insert(engine_redrives)
        .values([{"dead_letter": place} for place in places])
        .on_conflict_do_nothing()
        .returning(engine_redrives.c.dead_letter)
    )
    return set((await conn.execute(statement)).scalars())
