"""The projector: keeps the KPI projections up to date with the event store, exactly once.

It reads `lead_events` by position (docs/kpi.md "Projections" says why the store and not the topic) and
applies each batch and moves `kpi_checkpoint` in ONE transaction, under the checkpoint's row lock: a crash
loses at most an uncommitted batch, and several replicas take turns.

A batch that fails because of a record (`failures.is_record_failure`) is split by position, each part in its
own transaction, until the one record is found (`domain/suspects.py`); that record is written to
kpi_set_aside with the error and the checkpoint moves past it in the same transaction, so every other record
is projected exactly once. Any other failure (PostgreSQL away, a lock wait) is retried from the checkpoint,
logged once per `failure_log_interval_seconds` with a count. After `brake_run` records set aside in a row the
projector stops (`LoopHealth`): /readyz says so until the service is restarted.

The lag (store head minus checkpoint) is measured by a watcher of its own, outside the projection's
transaction, so it stays true while the projector waits on a lock or keeps failing. Metrics: see
adapters/projector_metrics.py and `LoopHealth` (loop "kpi-projector").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.loop_health import BrakeEngaged, LoopHealth, ThrottledLog
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import set_aside_store
from services.kpi.adapters.failures import is_record_failure, reason
from services.kpi.adapters.projection_lag import LagWatcher
from services.kpi.adapters.projection_store import lock_checkpoint, set_checkpoint, write_changes
from services.kpi.adapters.projector_metrics import ProjectorMetrics
from services.kpi.adapters.slice_summary_store import refresh_slices, slices_ready
from services.kpi.adapters.store_reads import is_survivor_merge, read_records, store_head
from services.kpi.adapters.summary_store import ready, refresh
from services.kpi.adapters.transaction import transaction
from services.kpi.domain.projection_batch import Changes
from services.kpi.domain.suspects import Suspect, Suspects

log = logging.getLogger(__name__)
LOOP = "kpi-projector"


def bounded_dimensions(model: StageModel) -> list[str]:
    """The dimensions the summaries are sliced by (those that are also Prometheus labels)."""
    return [d.name for d in model.dimensions if d.bounded]


class Projector:
    def __init__(
        self,
        engine: AsyncEngine,
        model: StageModel,
        registry: CollectorRegistry,
        *,
        batch: int = 5000,
        idle_seconds: float = 0.2,
        retry_seconds: float = 1.0,
        stall_after_seconds: float = 120.0,
        brake_run: int = 100,
        failure_log_interval_seconds: float = 60.0,
        lag_interval_seconds: float = 1.0,
    ) -> None:
        self._engine = engine
        self._model = model
        self._batch = batch
        self._idle = idle_seconds
        self._retry = retry_seconds
        self.metrics = ProjectorMetrics(registry)
        self.lag_watcher = LagWatcher(engine, self.metrics, lag_interval_seconds)
        self.health = LoopHealth(
            LOOP,
            registry,
            stall_after_seconds=stall_after_seconds,
            brake_run=brake_run,
            pending=lambda: self.metrics.lag_events,
        )
        self._failures = ThrottledLog(log, failure_log_interval_seconds)
        self._suspects: Suspects | None = None  # a failed batch's records, while the culprit is searched

    async def run(self) -> None:
        """Runs until cancelled; start it as a task in the service's lifespan. Once braked it projects nothing
        more (the lag is still measured) until the process is restarted."""
        watcher = asyncio.create_task(self.lag_watcher.run(), name=f"{LOOP}-lag")
        try:
            await self._project_until_braked()
            await watcher
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _project_until_braked(self) -> None:
        while self.health.braked_reason is None:
            try:
                passed = await self.project_once()
            except asyncio.CancelledError:
                raise
            except BrakeEngaged:
                return
            except Exception as exc:  # PostgreSQL away, a lock wait cut short: retried from the checkpoint
                self.metrics.failures.inc()
                self._failures.failure(f"KPI projection failed; retrying from the checkpoint in {self._retry:g} s", exc)
                await asyncio.sleep(self._retry)
                continue
            self._failures.recovered()
            if passed == 0 and self._suspects is None:
                await asyncio.sleep(self._idle)

    async def project_once(self) -> int:
        """One transaction: the next batch (or, while a failed batch is split, its next part), or one record set
        aside. Returns the positions the checkpoint moved past (0: nothing waited, or a part failed)."""
        if self.health.braked_reason is not None:
            raise BrakeEngaged(self.health.braked_reason)
        suspects = self._suspects
        read: list[Suspect] = []
        try:
            changes, checkpoint, head = await self._apply(None if suspects is None else suspects.probe(), read)
        except Exception as exc:
            if not read or not is_record_failure(exc):
                raise
            self.metrics.failures.inc()
            if len(read) == 1:  # found (kept as the suspect until the set-aside commits)
                self._suspects = Suspects.of(read)
                return await self._set_aside(read[0].position, exc)
            if suspects is None:
                log.warning(
                    "KPI projection of positions %d-%d failed because of a record (%s); splitting the batch to find it",
                    read[0].position, read[-1].position, reason(exc),
                )  # fmt: skip
            self._suspects = Suspects.of(read)
            return 0
        if suspects is not None:
            self._suspects = suspects.after_commit(checkpoint) if changes.records else None
        self.metrics.observe(head, checkpoint)
        if changes.records:
            self.metrics.advanced()
        self.metrics.events.inc(changes.records)
        self.metrics.anomalies.inc(len(changes.anomalies))
        self.health.progressed()
        self.health.stored(changes.records)
        return changes.records

    async def _apply(self, upto: int | None, read: list[Suspect]) -> tuple[Changes, int, int]:
        async with transaction(self._engine) as conn:
            checkpoint = await lock_checkpoint(conn)
            if not await ready(conn):  # the first batch after migration 0005 (or from empty tables)
                await refresh(conn)
            sliced = bounded_dimensions(self._model)
            if not await slices_ready(conn, sliced):  # after migration 0011, or a model with other bounded ones
                await refresh_slices(conn, sliced, stamp=True)
            records = await read_records(conn, checkpoint, self._batch, upto)
            if self._suspects is not None and (not records or records[0].position != self._suspects.first):
                self._suspects = None  # another replica moved on meanwhile: start again from its checkpoint
                return Changes(), checkpoint, await store_head(conn)
            read += [Suspect(r.position, is_survivor_merge(r)) for r in records]
            changes = Changes().add_records(records, self._model)
            if changes.records:
                await write_changes(conn, changes)
                checkpoint = changes.last_position
                await set_checkpoint(conn, checkpoint)
            return changes, checkpoint, await store_head(conn)

    async def _set_aside(self, position: int, exc: BaseException) -> int:
        """Records the one record that fails with its reason and moves the checkpoint past it, in one transaction."""
        async with transaction(self._engine) as conn:
            checkpoint = await lock_checkpoint(conn)
            following = await read_records(conn, checkpoint, 1, position)
            if not following or following[0].position != position:
                self._suspects = None  # another replica moved on meanwhile
                return 0
            row = await set_aside_store.set_aside(conn, position, reason(exc))
            await set_checkpoint(conn, position)
            head = await store_head(conn)
        self._suspects = None
        log.error(
            "KPI projection set aside store position %d (lead %s, %s): %s", position, row.lead_id, row.event_type,
            row.reason,
        )  # fmt: skip
        self.metrics.set_aside.inc()
        self.metrics.set_aside_records.inc()  # until the watcher's next count
        self.metrics.observe(head, position)
        self.metrics.advanced()
        self.health.progressed()
        self.health.set_aside(1)  # raises BrakeEngaged when this one completes a run of `brake_run`
        return 1

    async def catch_up(self) -> int:
        """Projects until nothing is left; returns the positions passed (records applied and set aside)."""
        total = 0
        while (n := await self.project_once()) or self._suspects is not None:
            total += n
        return total
