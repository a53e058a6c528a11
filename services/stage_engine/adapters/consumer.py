"""Consumes stagetrack.events with offsets kept in PostgreSQL (aiokafka "Storing Offsets Outside Kafka").

On assignment each partition seeks to the offset committed with the store; Kafka's own commit is only a
hint for lag tooling. A batch that fails (PostgreSQL down, say) is retried until it commits: the consumer
never moves past a record whose effects are not stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge

from services.stage_engine.adapters.batch_handoff import Handoff
from services.stage_engine.adapters.store import EventStore

log = logging.getLogger(__name__)
# process(records, the batch in front still committing or None, this batch's handoff to the one behind)
Process = Callable[[Sequence[ConsumerRecord], Handoff | None, Handoff], Awaitable[None]]
IN_FLIGHT = 2  # open batch transactions: one writing, the next deciding (batch_handoff.py); 1: one at a time


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, consumer: AIOKafkaConsumer, store: EventStore, group_id: str, drain: Callable[[], Awaitable[None]]
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._group_id = group_id
        self._drain = drain

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """The batches in flight commit first; then every processed batch is committed with its offsets."""
        await self._drain()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        stored = await self._store.offsets(self._group_id, [(tp.topic, tp.partition) for tp in assigned])
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, offset)
        log.info("assigned %s; seeking to stored offsets %s", sorted(assigned), stored)


class EventsConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        store: EventStore,
        process: Process,
        registry: CollectorRegistry,
        max_records: int = 500,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=max_records,
            client_id="stagetrack-engine",
        )
        self._topic = topic
        self._listener = SeekToStoredOffsets(self._consumer, store, group_id, self._drain)
        self._in_flight: list[tuple[asyncio.Task[None], Handoff]] = []
        self._process = process
        self._max_records = max_records
        self._positions: dict[TopicPartition, int] = {}
        self._lag = Gauge(
            "stagetrack_engine_consumer_lag", "Records on stagetrack.events not yet processed", registry=registry
        )
        self._lag.set_function(self._total_lag)

    def _total_lag(self) -> float:
        """Per assigned partition: the broker's high watermark minus the next offset to process."""
        lag = 0
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None and tp in self._positions:
                lag += max(0, highwater - self._positions[tp])
        return float(lag)

    async def run(self) -> None:
        await self._start()
        self._consumer.subscribe([self._topic], listener=self._listener)
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self._max_records)
                records = [r for tp in sorted(batches) for r in batches[tp]]
                if records:
                    await self._start_batch(records)
                else:
                    await self._drain()
        finally:
            for task, _ in self._in_flight:
                task.cancel()
            await asyncio.gather(*(task for task, _ in self._in_flight), return_exceptions=True)
            await self._consumer.stop()

    async def _start_batch(self, records: list[ConsumerRecord]) -> None:
        """Starts the batch behind the ones in flight; returns once the batch in front of it decided (or is done).
        The new batch decodes meanwhile and waits for that decision before it claims (`BatchProcessor`), so
        fetching and decoding overlap the deciding of the batch in front, and deciding the writes and commit
        of the one before that."""
        await self._forget_committed()
        if IN_FLIGHT == 1:
            await self._drain()
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
            await self._in_flight.pop(0)[0]  # raises what the batch raised (only cancellation)

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
            except asyncio.CancelledError:
                raise
            except Exception:  # the batch is retried, never skipped: log and back off
                log.exception("batch of %d records failed; retrying in %.1f s", len(records), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for record in records:  # for the lag gauge: the next offset to process, per partition
            self._positions[TopicPartition(record.topic, record.partition)] = record.offset + 1
