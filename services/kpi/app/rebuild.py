"""`stagetrack kpi rebuild`: the projections rebuilt from the event store, in place, in ONE transaction.
`run_rebuild` wires settings, model and database for the command line and draws the progress bar on stderr.

Under the checkpoint's row lock (a running projector waits, then continues from the rebuilt checkpoint), it
deletes every projection row and re-projects the store from position 0 up to the head it saw at the start,
with the same code as the live projector, leaving out the records set aside (kpi_set_aside) as the projector
did; the summary tables are then computed at once from the result (`summary_store.refresh`: the same rows the
projector's batches keep, faster). DELETE, not TRUNCATE: readers (the JSON API, the Prometheus collector) keep
seeing the old numbers until the commit switches them to the new ones in one step; TRUNCATE would block them
for the whole rebuild. The price is dead rows until autovacuum passes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.service import database
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.projection_store import (
    analyze,
    delete_projections,
    lock_checkpoint,
    set_checkpoint,
    write_changes,
)
from services.kpi.adapters.slice_summary_store import refresh_slices
from services.kpi.adapters.store_reads import read_records, store_head
from services.kpi.adapters.summary_store import refresh
from services.kpi.adapters.transaction import transaction
from services.kpi.app.bootstrap import load_configured_model
from services.kpi.app.projector import bounded_dimensions
from services.kpi.app.settings import KpiSettings
from services.kpi.domain.projection_batch import Changes

Progress = Callable[[int, int], None]  # (position reached, head position)


@dataclass(frozen=True)
class Rebuilt:
    events: int  # records projected
    position: int  # the checkpoint after the rebuild (the store head at its start)
    anomalies: int


async def project_next(
    conn: asyncpg.Connection,
    after: int,
    limit: int,
    model: StageModel,
    upto: int | None = None,
    *,
    summaries: bool = True,
    skip_set_aside: bool = False,
) -> Changes:
    """Reads, projects and writes the next batch; the caller moves the checkpoint to `last_position`.
    `summaries=False` leaves the summary tables alone (the rebuild computes them once at the end)."""
    records = await read_records(conn, after, limit, upto, skip_set_aside=skip_set_aside)
    changes = Changes().add_records(records, model)
    if changes.records:
        await write_changes(conn, changes, summaries=summaries)
    return changes


async def rebuild(
    engine: AsyncEngine, model: StageModel, *, batch: int = 5000, progress: Progress | None = None
) -> Rebuilt:
    events = anomalies = position = 0
    analyzed = 5000
    async with transaction(engine) as conn:
        await lock_checkpoint(conn)
        head = await store_head(conn)
        await delete_projections(conn)
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
        await refresh_slices(conn, bounded_dimensions(model))
        await set_checkpoint(conn, head)
    return Rebuilt(events, head, anomalies)


class ProgressBar:
    """`[##########..........]  50%  1,234/2,468 positions  3.2 s`, redrawn in place at most 10 times a second."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = done / total if total else 1.0
        filled = round(share * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        elapsed = now - self._started
        print(f"\r[{bar}] {share:4.0%}  {done:,}/{total:,} positions  {elapsed:.1f} s", end="", file=self._stream)
        self._stream.flush()

    def close(self) -> None:
        print(file=self._stream)


async def run_rebuild(settings: KpiSettings | None = None, stream: TextIO = sys.stderr) -> int:
    settings = settings or KpiSettings()
    model = load_configured_model(settings)
    bar = ProgressBar(stream)
    async with database(settings) as engine:
        result = await rebuild(engine, model, progress=bar)
    bar.close()
    print(f"KPI projections rebuilt from {result.events:,} lead-events (checkpoint {result.position:,})")
    if result.anomalies:
        print(f"{result.anomalies} records disagreed with one open stay per lead (logged)", file=stream)
    return 0
