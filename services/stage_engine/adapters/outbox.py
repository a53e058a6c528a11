"""Publishes the store to stagetrack.lead-events in store order, keyed by lead (the store is the outbox).

One publisher at a time across engines (a session advisory lock); the cursor advances only after Kafka
acknowledged, so delivery is at-least-once and consumers dedupe by `position`.

`stagetrack serve engine` runs it in a child process (`app/outbox_process.py`), beside the consumer; it is
still kept cheap per row: rows are read through asyncpg
with the event as text (spliced into the record, not decoded and re-encoded), records are appended to one
Kafka batch per partition (one future per batch, not per record), and the next rows are read while Kafka
acknowledges the previous ones. A lead's records keep store order: one partition per lead, batches of a
partition are queued in order, and the idempotent producer keeps that order across retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.common.kafka import durable_producer
from services.common.kafka_security import PLAINTEXT, KafkaSecurity
from services.stage_engine.adapters.lead_event_records import partition_of, record_value

log = logging.getLogger(__name__)
PUBLISHER_LOCK = 0x57A6F  # with the schema's hash: one publisher per store, stores in other schemas do not wait
CURSOR = "lead-events"
KAFKA_BATCH_BYTES = 512 * 1024  # per partition and request; under the broker's default 1 MiB message.max.bytes

Pending = tuple[int, Sequence["asyncio.Future[object]"]]  # the last position sent, and Kafka's acknowledgements


class OutboxPublisher:
    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap_servers: str,
        topic: str,
        on_published: Callable[[int], None] = lambda position: None,
        batch: int = 2000,
        idle_seconds: float = 0.1,
        linger_seconds: float = 0.05,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        """`on_published(position)`: every store position up to it is acknowledged by Kafka (the metric).
        `linger_seconds`: after a read that found fewer than `batch` rows (caught up), wait this long before
        reading again, so that rows are published in fewer, larger reads and Kafka requests (like Kafka's
        linger.ms: publishing waits at most this much longer; each read, request and cursor commit has a cost
        of its own, about a third of the publisher's CPU when it read one engine batch at a time)."""
        self._engine = engine
        self._bootstrap = bootstrap_servers
        self._security = security
        self._topic = topic
        self._on_published = on_published
        self._batch = batch
        self._idle = idle_seconds
        self._linger = linger_seconds

    async def run(self) -> None:
        while True:
            try:
                await self._publish_while_leader()
            except asyncio.CancelledError:
                raise
            except Exception:  # Kafka or PostgreSQL away: start over from the stored cursor
                log.exception("outbox publisher failed; restarting in 1 s")
                await asyncio.sleep(1)

    async def _publish_while_leader(self) -> None:
        producer = durable_producer(
            self._bootstrap, security=self._security, client_id="stagetrack-outbox", max_batch_size=KAFKA_BATCH_BYTES
        )
        await producer.start()
        try:
            async with self._engine.connect() as conn:
                db = await raw_connection(conn)
                # autocommit statements on the driver: the session lock outlives them, no transaction stays open
                await _lead_publishing(db)
                # The cursor is only where a restarted publisher resumes (delivery is at-least-once and consumers
                # dedupe by position), so its commits need not wait for the WAL flush: a crash of PostgreSQL
                # loses at most ~0.2 s of cursor moves (wal_writer_delay), re-published. Flushing it ~20 times a
                # second competed with the engine's own commits for the disk.
                await db.execute("SET synchronous_commit = off")
                try:
                    await self._publish(db, producer)
                finally:
                    await db.execute("SELECT pg_advisory_unlock($1::int, hashtext(current_schema()))", PUBLISHER_LOCK)
        finally:
            await producer.stop()

    async def _publish(self, db: asyncpg.Connection, producer: AIOKafkaProducer) -> None:
        """Read, send, and meanwhile wait for the previous send's acknowledgement to move the cursor."""
        sent = await db.fetchval("SELECT position FROM outbox_cursor WHERE name = $1", CURSOR) or 0
        pending: Pending | None = None
        while True:
            rows = await db.fetch(
                "SELECT position, lead_id, version, data::text FROM lead_events WHERE position > $1 "
                "ORDER BY position LIMIT $2",
                sent,
                self._batch,
            )
            now: Pending | None = None
            if rows:
                sent = rows[-1][0]
                now = (sent, await self._send(producer, rows))
            if pending is not None:
                await self._acknowledged(db, pending)
            if len(rows) < self._batch:  # caught up: let rows gather (the batch just sent is acknowledged meanwhile)
                await asyncio.sleep(self._linger if rows else self._idle)
            pending = now

    async def _send(self, producer: AIOKafkaProducer, rows: Sequence[asyncpg.Record]) -> list[asyncio.Future[object]]:
        """Queues the rows as one batch per partition (in store order); returns the batches' futures."""
        partitions = len(await producer.partitions_for(self._topic))
        builders: dict[int, Any] = {}  # aiokafka's BatchBuilder, one open batch per partition
        futures: list[asyncio.Future[object]] = []
        for position, lead_id, version, data in rows:
            key = lead_id.encode()
            partition = partition_of(key, partitions)
            value = record_value(position, lead_id, version, data)
            builder = builders.get(partition)
            if builder is None:
                builder = builders[partition] = producer.create_batch()
            if builder.append(timestamp=None, key=key, value=value) is None:  # full: queue it, start the next
                futures.append(await producer.send_batch(builder, self._topic, partition=partition))
                builder = builders[partition] = producer.create_batch()
                builder.append(timestamp=None, key=key, value=value)  # a batch's first record always fits
        for partition, builder in builders.items():
            builder.close()
            futures.append(await producer.send_batch(builder, self._topic, partition=partition))
        return futures

    async def _acknowledged(self, db: asyncpg.Connection, pending: Pending) -> None:
        position, futures = pending
        await asyncio.gather(*futures)
        await db.execute(
            "INSERT INTO outbox_cursor (name, position) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            CURSOR,
            position,
        )
        self._on_published(position)


async def _lead_publishing(db: asyncpg.Connection) -> None:
    """Waits until this connection holds the publisher lock (another engine may be publishing)."""
    while True:
        if await db.fetchval("SELECT pg_try_advisory_lock($1::int, hashtext(current_schema()))", PUBLISHER_LOCK):
            return
        await asyncio.sleep(1)
