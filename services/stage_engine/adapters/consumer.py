"""Consumes stagetrack.events with offsets kept in PostgreSQL (aiokafka "Storing Offsets Outside Kafka").

On assignment each partition seeks to the offset committed with the store (or the log's start); Kafka's own
commit is not used. Records are taken only from a partition once it has been sought, and never twice within
one assignment: the fetcher starts on its own as soon as partitions are assigned, and what it returns before
the seek would otherwise be taken a second time after it. A batch that fails for a moment (PostgreSQL down,
say) is retried until it commits, its failure logged once per interval with a count: the consumer never moves
past a record whose effects are not stored (an event the store refuses is set aside by the processor). The loop
reports to its `LoopHealth`: progress on every empty poll (the processor reports every commit), the backlog
(`adapters/backlog.py`) for the stall check, and it stops when the processor engages the brake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from services.common.kafka import security_options
from services.common.kafka_security import PLAINTEXT, KafkaSecurity
from services.common.loop_health import BrakeEngaged, LoopHealth, ThrottledLog
from services.stage_engine.adapters.backlog import Backlog
from services.stage_engine.adapters.batch_handoff import Handoff
from services.stage_engine.adapters.store import EventStore

log = logging.getLogger(__name__)
# process(records, the batch in front still committing or None, this batch's handoff to the one behind)
Process = Callable[[Sequence[ConsumerRecord], Handoff | None, Handoff], Awaitable[None]]
IN_FLIGHT = 2  # 2: batches pipelined (batch_handoff.py: up to three hold locks); 1: one at a time


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, consumer: AIOKafkaConsumer, store: EventStore, group_id: str, drain: Callable[[], Awaitable[None]]
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._group_id = group_id
        self._drain = drain
        self._failures = ThrottledLog(log)
        self.next_offsets: dict[TopicPartition, int] = {}  # per partition sought: the next offset to take

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """The batches in flight commit first; then every processed batch is committed with its offsets."""
        for tp in revoked:
            self.next_offsets.pop(tp, None)
        try:
            await self._drain()
        except BrakeEngaged:
            pass  # the loop sees it and stops

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Retried until it succeeds: a partition not sought is never taken from."""
        delay = 0.5
        while True:
            try:
                stored = await self._store.offsets(self._group_id, [(tp.topic, tp.partition) for tp in assigned])
                fresh = [tp for tp in assigned if (tp.topic, tp.partition) not in stored]
                starts = await self._consumer.beginning_offsets(fresh) if fresh else {}
                break
            except Exception as exc:  # PostgreSQL or Kafka unavailable for a moment
                self._failures.failure(f"could not find where to start {sorted(assigned)}; retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._failures.recovered()
        for tp in assigned:  # no await from here on: seek and take from the same offset
            offset = stored.get((tp.topic, tp.partition), starts.get(tp, 0))
            self._consumer.seek(tp, offset)
            self.next_offsets[tp] = offset
        log.info("assigned %s; seeking to stored offsets %s", sorted(assigned), stored)

    def take(self, fetched: Mapping[TopicPartition, list[ConsumerRecord]]) -> list[ConsumerRecord]:
        """The records of partitions already sought, from the next offset to take on, in partition order."""
        taken: list[ConsumerRecord] = []
        for tp in sorted(fetched):
            next_offset = self.next_offsets.get(tp)
            if next_offset is None:
                continue  # not sought yet: fetched again from the sought offset
            records = [r for r in fetched[tp] if r.offset >= next_offset]
            if records:
                self.next_offsets[tp] = records[-1].offset + 1
                taken += records
        return taken


class EventsConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        store: EventStore,
        process: Process,
        registry: CollectorRegistry,
        health: LoopHealth,
        max_records: int = 500,
        failure_log_interval_seconds: float = 60.0,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=max_records,
            client_id="stagetrack-engine",
            **security_options(security),
        )
        self._topic = topic
        self._listener = SeekToStoredOffsets(self._consumer, store, group_id, self._drain)
        self._in_flight: list[tuple[asyncio.Task[None], Handoff]] = []
        self._process = process
        self._max_records = max_records
        self._health = health
        self._failures = ThrottledLog(log, failure_log_interval_seconds)
        self.backlog = Backlog(self._consumer, store, group_id, registry, failure_log_interval_seconds)
        health.set_pending(self.backlog.total)

    async def run(self) -> None:
        await self._start()
        self._consumer.subscribe([self._topic], listener=self._listener)
        watch = asyncio.create_task(self.backlog.watch(), name="engine-backlog")
        try:
            while self._health.braked_reason is None:
                fetched = await self._consumer.getmany(timeout_ms=500, max_records=self._max_records)
                if any(fetched.values()):
                    await self._start_batch(fetched)
                else:
                    await self._drain()
                    self._health.progressed()  # looked, and nothing waits here
        except BrakeEngaged:
            pass
        finally:
            tasks = [watch, *(task for task, _ in self._in_flight)]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._consumer.stop()
        log.error("the events consumer stopped: %s", self._health.braked_reason)

    async def _start_batch(self, fetched: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Starts the batch behind the ones in flight; returns once the batch in front of it decided (or is done).
        The new batch decodes meanwhile and waits for that decision before it claims (`BatchProcessor`), so
        fetching and decoding overlap the deciding of the batch in front, and deciding the writes and commit
        of the one before that."""
        await self._forget_committed()
        if IN_FLIGHT == 1:
            await self._drain()
        records = self._listener.take(fetched)  # after the last await: a rebalance cannot slip in between
        if not records:
            return
        previous = self._in_flight[-1] if self._in_flight else None
        handoff = Handoff(previous[1] if previous else None)
        task = asyncio.create_task(self._process_until_committed(records, previous[1] if previous else None, handoff))
        self._in_flight.append((task, handoff))
        if previous is None:
            return
        front_task, front = previous
        decided = asyncio.ensure_future(front.decided.wait())
        try:
            await asyncio.wait([front_task, decided], return_when=asyncio.FIRST_COMPLETED)
        finally:
            decided.cancel()

    async def _forget_committed(self) -> None:
        while self._in_flight and self._in_flight[0][0].done():
            await self._in_flight.pop(0)[0]  # raises what the batch raised (cancellation, BrakeEngaged)

    async def _drain(self) -> None:
        """Waits until every batch in flight committed."""
        while self._in_flight:
            await self._in_flight.pop(0)[0]

    async def _start(self) -> None:
        """Kafka may not be up yet when the engine starts: keep trying (readiness says 503 meanwhile)."""
        delay = 0.5
        while True:
            try:
                await self._consumer.start()
                return
            except KafkaError as exc:
                log.warning("Kafka not reachable (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _process_until_committed(
        self, records: list[ConsumerRecord], previous: Handoff | None, handoff: Handoff
    ) -> None:
        delay = 0.2
        while True:
            try:
                await self._process(records, previous, handoff)
                break
            except (asyncio.CancelledError, BrakeEngaged):
                raise
            except Exception as exc:  # the batch is retried, never skipped: log (throttled) and back off
                self._failures.failure(f"batch of {len(records)} records failed; retrying (backoff up to 5 s)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._failures.recovered()
