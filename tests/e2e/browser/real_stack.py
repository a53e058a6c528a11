"""The real services for the website tests: ingest, engine and KPI as `stagetrack serve` processes on free ports,
with the test's own schema and topics (tests/conftest.py), keys made as `stagetrack keys create` makes them, and
the reads a test polls: the lead view, the KPI's stages, and the raw events topic as it stands."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.api_keys import NewKey
from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.kpi.adapters.projection_store import CHECKPOINT
from tests.e2e.browser.tools import browser_tools
from tests.keys import bearer, new_key
from tests.stack import eventually, served, unique

Lead = dict[str, Any]


@dataclass
class RealStack:
    settings: ServiceSettings
    db: AsyncEngine  # the test's schema
    ingest: str  # the ingest's origin: the site's `cdn`
    engine_api: httpx.AsyncClient  # with a read:leads key
    kpi_api: httpx.AsyncClient  # with a read:kpi key

    async def tracker_key(self, *origins: str, source: str = "web") -> NewKey:
        """`stagetrack keys create --source web --scope tracker --origin ...`: the key and its lead-id secret."""
        return await KeyStore(self.db).create_key(source, ("tracker",), origins)

    async def lead(self, any_id: str, done: Callable[[Lead], bool], within: float, what: str) -> Lead:
        """GET /v1/leads/{any_id}, polled until `done` holds for the answer."""

        async def check() -> Lead | None:
            response = await self.engine_api.get(f"/v1/leads/{any_id}")
            body: Lead = response.json()
            return body if response.status_code == 200 and done(body) else None

        return await eventually(check, within, what)

    async def kpi_caught_up(self, within: float) -> None:
        """The KPI projections include every lead event the engine stored so far."""

        async def check() -> bool:
            async with self.db.connect() as conn:
                head = await conn.scalar(text("SELECT coalesce(max(position), 0) FROM lead_events"))
                at = await conn.scalar(text("SELECT position FROM kpi_checkpoint WHERE name = :n"), {"n": CHECKPOINT})
            return at is not None and at >= head

        await eventually(check, within, "the KPI projections caught up with the engine's store")

    async def stages(self) -> dict[str, dict[str, Any]]:
        """GET /v1/kpi/stages over yesterday..tomorrow (the events land at the server's time), by stage name."""
        today = datetime.now(UTC).date()
        period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}
        response = await self.kpi_api.get("/v1/kpi/stages", params=period)
        assert response.status_code == 200, response.text
        return {s["stage"]: s for s in response.json()["stages"]}

    async def ingest_answers(self) -> Counter[tuple[str, str]]:
        """How many requests the ingest answered so far, by (method, status): its own count (`/metrics`), which
        includes the answers a browser then kept from the page."""
        async with httpx.AsyncClient(base_url=self.ingest, timeout=10) as client:
            exposition = (await client.get("/metrics")).text
        answered: Counter[tuple[str, str]] = Counter()
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                if sample.name == "stagetrack_http_requests_total":
                    answered[(sample.labels["method"], sample.labels["status"])] += int(sample.value)
        return answered

    async def raw_events(self) -> list[ConsumerRecord]:
        """Every record of the test's events topic up to its end as of now: what the ingest stored."""
        return await records_so_far(self.settings, self.settings.events_topic)


async def records_so_far(settings: ServiceSettings, topic: str) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]  # as the test made it
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        for partition in partitions:
            while await consumer.position(partition) < ends[partition]:
                batch = await consumer.getmany(partition, timeout_ms=5000)
                records += batch.get(partition, [])
        return records
    finally:
        await consumer.stop()


@asynccontextmanager
async def real_stack(settings: ServiceSettings, db: AsyncEngine, log_dir: Path) -> AsyncIterator[RealStack]:
    """Migrates the test's schema and serves the three services on it (the topics: the `topics` fixture). They
    start side by side: on a loaded machine each takes seconds to import and answer."""
    await upgrade(settings.database_url, settings.database_schema)
    leads_key, kpi_key = await new_key(db, "read:leads"), await new_key(db, "read:kpi")
    own = {"STAGETRACK_CONSUMER_GROUP": unique("g")}
    library = {"STAGETRACK_ANALYTICS_JS_DIR": str(browser_tools().analytics_next_chunks)}
    async with AsyncExitStack() as running:
        async with asyncio.TaskGroup() as starting:  # one failing to start stops the others
            ingest = starting.create_task(
                running.enter_async_context(served("ingest", settings, log_dir / "ingest.log", **library))
            )
            engine_url = starting.create_task(
                running.enter_async_context(served("engine", settings, log_dir / "engine.log", **own))
            )
            kpi_url = starting.create_task(
                running.enter_async_context(served("kpi", settings, log_dir / "kpi.log", **own))
            )
        engine_api = await running.enter_async_context(
            httpx.AsyncClient(base_url=engine_url.result(), headers=bearer(leads_key), timeout=10)
        )
        kpi_api = await running.enter_async_context(
            httpx.AsyncClient(base_url=kpi_url.result(), headers=bearer(kpi_key), timeout=10)
        )
        yield RealStack(settings, db, ingest.result(), engine_api, kpi_api)
