"""Publishes the store to stagetrack.lead-events in store order, keyed by lead (the store is the outbox).

One publisher at a time across engines (a session advisory lock); the cursor advances only after Kafka
acknowledged, so delivery is at-least-once and consumers dedupe by `position`.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.kafka import durable_producer

log = logging.getLogger(__name__)
PUBLISHER_LOCK = 0x57A6F
CURSOR = "lead-events"


class OutboxPublisher:
    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap_servers: str,
        topic: str,
        registry: CollectorRegistry,
        batch: int = 2000,
        idle_seconds: float = 0.1,
    ) -> None:
        self._engine = engine
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._batch = batch
        self._idle = idle_seconds
        self._published = Gauge(
            "stagetrack_engine_published_position",
            "Store position published to stagetrack.lead-events",
            registry=registry,
        )

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
        producer = durable_producer(self._bootstrap, client_id="stagetrack-outbox")
        await producer.start()
        try:
            async with self._engine.connect() as conn:
                while not await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": PUBLISHER_LOCK}):
                    await conn.commit()
                    await asyncio.sleep(1)
                await conn.commit()
                try:
                    while True:
                        if not await self._publish_next(conn, producer):
                            await asyncio.sleep(self._idle)
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PUBLISHER_LOCK})
        finally:
            await producer.stop()

    async def _publish_next(self, conn, producer) -> bool:  # type: ignore[no-untyped-def]
        cursor = await conn.scalar(text("SELECT position FROM outbox_cursor WHERE name = :n"), {"n": CURSOR}) or 0
        rows = (
            await conn.execute(
                text(
                    "SELECT position, lead_id, version, data FROM lead_events WHERE position > :c "
                    "ORDER BY position LIMIT :n"
                ),
                {"c": cursor, "n": self._batch},
            )
        ).all()
        await conn.commit()
        if not rows:
            return False
        futures = []
        for position, lead_id, version, data in rows:
            value = orjson.dumps({"position": position, "lead_id": lead_id, "version": version, "event": data})
            futures.append(await producer.send(self._topic, value, key=lead_id.encode()))
        await asyncio.gather(*futures)
        last = rows[-1][0]
        await conn.execute(
            text(
                "INSERT INTO outbox_cursor (name, position) VALUES (:n, :p) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
            ),
            {"n": CURSOR, "p": last},
        )
        await conn.commit()
        self._published.set(last)
        return True
