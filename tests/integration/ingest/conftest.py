"""An ingest wired to the real Kafka and PostgreSQL: in-process (fast) or as a real server (for SDKs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings
from tests.stack import served
from tests.unit.ingest.test_salesforce import ORG


@dataclass
class Ingest:
    client: httpx.AsyncClient
    key: str
    settings: IngestSettings
    keys: KeyStore


@pytest.fixture
async def ingest_settings(settings: IngestSettings, engine: AsyncEngine, topics: list[str]) -> IngestSettings:
    await upgrade(settings.database_url, settings.database_schema)
    return IngestSettings(
        **settings.model_dump(exclude={"port"}) | {"kafka_send_timeout_seconds": 3, "key_cache_seconds": 0}
    )


@pytest.fixture
async def key_store(engine: AsyncEngine, ingest_settings: IngestSettings) -> KeyStore:
    return KeyStore(engine, cache_ttl_seconds=0)


@pytest.fixture
async def ingest(ingest_settings: IngestSettings, key_store: KeyStore) -> AsyncIterator[Ingest]:
    """The app in this process, over ASGI; its Kafka and PostgreSQL are real."""
    key = await key_store.create("web")
    app = create_app(ingest_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ingest", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            yield Ingest(client, key, ingest_settings, key_store)


@pytest.fixture
async def ingest_server(
    ingest_settings: IngestSettings, key_store: KeyStore, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """`stagetrack serve ingest` as a real process; yields (base URL, write key)."""
    key = await key_store.create("sdk")
    async with served("ingest", ingest_settings, tmp_path / "ingest.log") as url:
        yield url, key


@pytest.fixture
async def salesforce_path(key_store: KeyStore) -> str:
    """The Outbound Message URL path Salesforce is given: it ends with a key of scope connector:salesforce."""
    token = await key_store.create("salesforce", ("connector:salesforce",))
    return f"/v1/connectors/salesforce/{token}"


@pytest.fixture
async def salesforce(ingest_settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process ingest with the Salesforce connector configured for ORG (the key store holds no key yet)."""
    app = create_app(ingest_settings.model_copy(update={"salesforce_organization_id": ORG[:15]}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            yield client
