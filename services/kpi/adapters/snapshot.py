"""One consistent read: every number of one API answer comes from the same snapshot of the projections."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

WORK_MEM = "64MB"


@contextlib.asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only REPEATABLE READ transaction: the projector may commit meanwhile, the answer stays whole."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            # Analytic reads: JIT compilation costs more than it saves on these index scans, and sorts/hashes
            # of a period's rows should stay in memory.
            await conn.execute(text("SET LOCAL jit = off"))
            await conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            yield conn


async def force_custom_plans(conn: AsyncConnection) -> None:
    """Plans for these parameters, never the generic plan a pooled connection's prepared statement switches to
    after five runs: with `entered_at > $1` unknown, EXISTS (... entered after now) becomes a scan of every
    stay (measured: 50 ms answers turning into 700 ms). For the rest of the snapshot's transaction."""
    await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
