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

from services.stage_engine.adapters.store import EventStore

log = logging.getLogger(__name__)
Process = Callable[[Sequence[ConsumerRecord]], Awaitable[None]]


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: AIOKafkaConsumer, store: EventStore, group_id: str) -> None:
        self._consumer = consumer
        self._store = store
        self._group_id = group_id

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to flush: every processed batch is already committed with its offsets."""

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
        self._listener = SeekToStoredOffsets(self._consumer, store, group_id)
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
                    await self._process_until_committed(records)
                    for tp, rs in batches.items():
                        self._positions[tp] = rs[-1].offset + 1
        finally:
            await self._consumer.stop()

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

    async def _process_until_committed(self, records: list[ConsumerRecord]) -> None:
        delay = 0.2
        while True:
            try:
                await self._process(records)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # the batch is retried, never skipped: log and back off
                log.exception("batch of %d records failed; retrying in %.1f s", len(records), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
