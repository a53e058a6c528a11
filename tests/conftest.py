"""Session fixtures: the real Kafka, PostgreSQL and Prometheus, started through deploy/local like `make up`.

A stack that cannot start fails the tests that need it; nothing here skips.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.kafka import ensure_topics
from services.common.settings import ServiceSettings
from tests.stack import STACK, unique

PARTS = ("postgres", "kafka", "prometheus")


def _running(part: str) -> bool:
    return subprocess.run([str(STACK), "status", part], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[None]:
    """Starts what is not running; at the end stops only what this session started."""
    started = [p for p in PARTS if not _running(p)]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    result = subprocess.run([str(STACK), "up", *PARTS], capture_output=True, text=True)
    with capture.global_and_fixture_disabled():  # the versions started belong in the CI log
        print("\n" + result.stderr, flush=True)
    if result.returncode != 0:
        pytest.fail(f"the local stack did not start:\n{result.stderr}", pytrace=False)
    yield
    if started:
        subprocess.run([str(STACK), "down", *started], capture_output=True)


@pytest.fixture
def settings(stack: None) -> ServiceSettings:
    """Settings aimed at the local stack with a schema and topics of this test's own."""
    suffix = unique("t")
    return ServiceSettings(
        database_schema=suffix,
        events_topic=f"{suffix}.events",
        lead_events_topic=f"{suffix}.lead-events",
        dead_letter_topic=f"{suffix}.dead-letter",
    )


@pytest.fixture
async def topics(settings: ServiceSettings) -> list[str]:
    return await ensure_topics(settings.kafka_bootstrap_servers, settings.topics, settings.topic_partitions)


@pytest.fixture
async def engine(settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
    """An engine whose search_path is the test's own schema; the schema is dropped afterwards."""
    admin = db.create_engine(settings.database_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{settings.database_schema}"'))
    engine = db.create_engine(settings.database_url, settings.database_schema)
    yield engine
    await engine.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{settings.database_schema}" CASCADE'))
    await admin.dispose()
