"""A stage engine wired to the real Kafka and PostgreSQL, in-process, plus a producer of envelopes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event, encode
from services.common.kafka import durable_producer
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.keys import bearer, new_key
from tests.stack import unique


def envelope(
    event_id: str, type: str, at: str, *, anonymous_id: str | None = None, lead_id: str | None = None, **properties: Any
) -> Event:
    return Event(
        event_id=event_id,
        type=type,
        occurred_at=datetime.fromisoformat(at),
        source="test",
        received_at=datetime.now(UTC),
        anonymous_id=anonymous_id,
        lead_id=lead_id,
        properties=properties,
    )


@dataclass
class Producer:
    producer: AIOKafkaProducer
    topic: str

    async def send(self, events: Sequence[Event]) -> None:
        futures = [await self.producer.send(self.topic, encode(e), key=e.partition_key.encode()) for e in events]
        for future in futures:
            await future

    async def send_keyed(self, records: Sequence[tuple[bytes, Event]]) -> int:
        """Sends (key, envelope) records as the workload keys them; returns how many distinct event ids."""
        for key, event in records:
            await self.producer.send(self.topic, encode(event), key=key)
        await self.producer.flush()
        return len({e.event_id for _, e in records})

    async def send_raw(self, value: bytes, key: bytes) -> None:
        await self.producer.send_and_wait(self.topic, value, key=key)


@pytest.fixture
async def engine_settings(settings: ServiceSettings, engine: AsyncEngine, topics: list[str]) -> EngineSettings:
    await upgrade(settings.database_url, settings.database_schema)
    return EngineSettings(**settings.model_dump(exclude={"port"}), consumer_group=unique("engine"))


@pytest.fixture
async def producer(engine_settings: EngineSettings) -> AsyncIterator[Producer]:
    p = durable_producer(engine_settings.kafka_bootstrap_servers)
    await p.start()
    yield Producer(p, engine_settings.events_topic)
    await p.stop()


@pytest.fixture
async def engine_client(engine_settings: EngineSettings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The engine in-process; its client holds a `read:leads` key."""
    headers = bearer(await new_key(engine, "read:leads"))
    app = create_app(engine_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://engine", headers=headers) as client:
            yield client
