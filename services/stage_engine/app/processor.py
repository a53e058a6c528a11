"""The engine's use case: take a batch of records from stagetrack.events and make it part of the store, exactly
once, in one transaction with the consumer offsets; set aside what the store cannot hold, and store the rest.

A batch commits whole (two in flight: `adapters/batch_handoff.py`) unless the store refuses it because of one of
its events (`adapters/store_errors.py`). Then it is split in halves, each its own transaction, in order and alone,
until the one record that fails is found: that record goes to the dead-letter topic with the database's error,
its place in the log is claimed and the offsets move past it; every other record is stored exactly once. After
`set_aside_brake_run` records set aside in a row the loop stops (`LoopHealth`: `BrakeEngaged`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import ConsumerRecord

from services.common.loop_health import BrakeEngaged, LoopHealth
from services.common.stage_model.model_types import StageModel
from services.stage_engine.adapters.batch_handoff import Handoff, PredecessorRolledBack
from services.stage_engine.adapters.store import EventStore
from services.stage_engine.adapters.store_errors import CONFLICTS, caused_by_an_event, describe
from services.stage_engine.app.batch_items import Item, next_offsets, read_items
from services.stage_engine.app.batch_transaction import BatchTransaction, DeadLetterSink, GoAlone, Tally
from services.stage_engine.app.engine_metrics import EngineMetrics
from services.stage_engine.domain.batch import BatchOutcome

__all__ = ["BatchProcessor", "DeadLetterSink", "EngineMetrics"]
log = logging.getLogger(__name__)
ATTEMPTS = 20  # conflicts in a row before the batch counts as failed (the consumer then retries it, logged)


class BatchProcessor:
    def __init__(
        self,
        store: EventStore,
        model: StageModel,
        email_key: bytes,
        dead_letters: DeadLetterSink,
        group_id: str,
        metrics: EngineMetrics,
        health: LoopHealth | None = None,
    ) -> None:
        """`health`: the consumer loop's (progress, and the brake on set-asides); None in a replay."""
        self._transaction = BatchTransaction(store, model, email_key, group_id, dead_letters)
        self._store = store
        self._group_id = group_id
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._health = health
        self._brake_near = health.would_brake if health is not None else None

    async def process(
        self, records: Sequence[ConsumerRecord], previous: Handoff | None = None, handoff: Handoff | None = None
    ) -> None:
        """Returns once every record is stored or set aside; retries conflicts; raises on other failures (the
        caller retries: records already committed are not taken again), and `BrakeEngaged` to stop the loop.

        `previous`: the batch in front, still committing (this one writes only after it committed);
        `handoff`: how this batch tells the one behind it (`adapters/batch_handoff.py`)."""
        handoff = handoff or Handoff()
        try:
            with self._metrics.batch_seconds.time():
                items = await read_items(records)
                if handoff.alone_from is not None or not await self._whole(items, previous, handoff):
                    await self._alone(items, handoff)
        except BrakeEngaged as exc:
            handoff.rolled_back.set()
            handoff.decided.set()
            handoff.fail(exc)
            raise
        handoff.commit_done()
        self._metrics.last_event_time.set_to_current_time()

    async def _whole(self, items: list[Item], previous: Handoff | None, handoff: Handoff) -> bool:
        """Commits the batch in one transaction; False when it must be taken apart, once the batch in front
        committed (it then counts as rolled back: the batch behind waits for all of it)."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                tally = await self._transaction.commit(items, previous, handoff, self._brake_near)
            except PredecessorRolledBack:
                handoff.rolled_back.set()
                assert previous is not None
                await previous.committed  # it retries until it commits; then this batch goes alone
                previous = None
            except CONFLICTS as exc:
                handoff.rolled_back.set()
                await self._conflict(attempt, exc)
                if previous is not None:  # the leads it handed over may be what another engine changed since
                    await previous.committed
                    previous = None
            except Exception as exc:
                handoff.rolled_back.set()
                if not isinstance(exc, GoAlone) and not caused_by_an_event(exc):
                    raise
                log.info("batch of %d records refused (%s): taking it apart", len(items), describe(exc)[:300])
                handoff.decided.set()
                if previous is not None:
                    await previous.committed
                handoff.alone_from = 0
                return False
            except BaseException:
                handoff.rolled_back.set()
                raise
            else:
                self._account(tally)
                return True
        raise RuntimeError(f"batch kept conflicting after {ATTEMPTS} attempts")

    async def _alone(self, items: list[Item], handoff: Handoff) -> None:
        """From `handoff.alone_from` on, pieces in order, each its own transaction: a piece the store refuses is
        halved until the record that fails it is found and set aside. A failure of the moment raises (the
        consumer retries, from the first record not committed)."""
        assert handoff.alone_from is not None
        pieces = [(handoff.alone_from, len(items))]
        while pieces:
            start, stop = pieces.pop()
            piece = items[start:stop]
            brake_near = self._brake_near if len(piece) > 1 else None  # one record at a time: counted exactly
            try:
                tally = await self._retrying(self._transaction.commit, piece, None, Handoff(), brake_near)
            except Exception as exc:
                if not isinstance(exc, GoAlone) and not caused_by_an_event(exc):
                    raise
                if len(piece) > 1:
                    middle = (start + stop) // 2
                    pieces += [(middle, stop), (start, middle)]
                    continue
                tally = await self._retrying(self._set_aside, piece[0], exc)
            handoff.alone_from = stop
            self._account(tally)

    async def _set_aside(self, item: Item, exc: BaseException) -> Tally:
        """The record the store refused: dead-lettered with the database's error, its place claimed (not its
        event id: a redrive can store it once the cause is fixed), the offsets moved past it."""
        event_id = item.event.event_id if item.event is not None else None
        reason = describe(exc) if event_id is None else f"event {event_id}: {describe(exc)}"
        async with self._store.transaction() as tx:
            newly = await tx.set_aside((), [item.place])
            await tx.write(BatchOutcome(), self._group_id, next_offsets([item]))
            if newly:
                log.warning("setting aside %s (event %r): %s", item.place, event_id, describe(exc)[:500])
                await self._dead_letters.send(item.record.value, item.record.key, reason, item.origin, event_id)
        return Tally(dead_lettered=1, runs=[(True, 1)]) if newly else Tally(duplicate=1)

    async def _retrying(self, attempt: Callable[..., Awaitable[Tally]], *args: object) -> Tally:
        for n in range(1, ATTEMPTS + 1):
            try:
                return await attempt(*args)
            except CONFLICTS as exc:
                await self._conflict(n, exc)
        raise RuntimeError(f"batch kept conflicting after {ATTEMPTS} attempts")

    async def _conflict(self, attempt: int, exc: BaseException) -> None:
        self._metrics.conflicts.inc()
        log.info("batch conflict (attempt %d), retrying: %r", attempt, exc)
        await asyncio.sleep(min(0.01 * 2**attempt, 1.0))

    def _account(self, tally: Tally) -> None:
        """Counts a committed transaction's records; the loop's brake sees them in log order (may raise)."""
        events = self._metrics.events
        for outcome, count in (
            ("applied", tally.applied),
            ("duplicate", tally.duplicate),
            ("dead_lettered", tally.dead_lettered),
        ):
            if count:
                events.labels(outcome).inc(count)
        if self._health is None:
            return
        self._health.progressed()
        for set_aside, count in tally.runs:
            if set_aside:
                self._health.set_aside(count)
            else:
                self._health.stored(count)
