"""`stagetrack kpi rebuild`: the projections rebuilt from the log, in place, in ONE transaction.

Under the checkpoint's row lock (a running projector waits, then continues from the rebuilt checkpoint), it
deletes every projection row and re-projects the store from position 0 up to the head it saw at the start,
with the same code as the live projector, leaving out the records set aside (kpi_set_aside) as the projector
did; the summary tables are then computed at once from the result (`summary_store.refresh`: the same rows the
projector's batches keep, faster). DELETE, not TRUNCATE: readers (the JSON API, the Prometheus collector) keep
seeing the old numbers until the commit switches them to the new ones in one step; TRUNCATE would block them
for the whole rebuild. The price is dead rows until autovacuum passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.projection_store import (
    SUMMARIES,
    TABLES,
    lock_checkpoint,
    project_next,
    set_checkpoint,
)
from services.kpi.adapters.projector import transaction
from services.kpi.adapters.store_reads import store_head
from services.kpi.adapters.summary_store import refresh

Progress = Callable[[int, int], None]  # (position reached, head position)


async def analyze(conn: asyncpg.Connection) -> None:
    """Table statistics as the rebuild grows the tables from empty. Without them the planner believes the
    tables empty (their statistics from before the DELETE, or from a new schema) and joins a batch's leads by
    scanning every stay: minutes per batch at a million leads. ANALYZE in the transaction sees its rows."""
    for table in ("kpi_stays", "kpi_leads", "kpi_transitions"):
        await conn.execute(f"ANALYZE {table}")


@dataclass(frozen=True)
class Rebuilt:
    events: int  # records projected
    position: int  # the checkpoint after the rebuild (the store head at its start)
    anomalies: int


async def rebuild(
    engine: AsyncEngine, model: StageModel, *, batch: int = 5000, progress: Progress | None = None
) -> Rebuilt:
    events = anomalies = position = 0
    analyzed = 5000
    async with transaction(engine) as conn:
        await lock_checkpoint(conn)
        head = await store_head(conn)
        for table in (*TABLES, *SUMMARIES):
            await conn.execute(f"DELETE FROM {table}")
        if progress:
            progress(0, head)
        while True:
            changes = await project_next(conn, position, batch, model, upto=head, summaries=False, skip_set_aside=True)
            if not changes.records:
                break
            if events + changes.records >= analyzed * 2:  # at 10k, 20k, 40k, ... records
                analyzed = events + changes.records
                await analyze(conn)
            position = changes.last_position
            events += changes.records
            anomalies += len(changes.anomalies)
            if progress:
                progress(position, head)
        await analyze(conn)
        await refresh(conn)  # the summaries at once, set-based: faster than batch by batch, and the same rows
        await set_checkpoint(conn, head)
    return Rebuilt(events, head, anomalies)
