"""Session fixtures: the real Kafka, PostgreSQL and Prometheus, started through deploy/local like `make up`.

A stack that cannot start fails the tests that need it; nothing here skips.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.kafka import delete_topics, ensure_topics
from services.common.settings import ServiceSettings
from tests.stack import STACK, unique

PARTS = ("postgres", "kafka", "prometheus")


def _running(part: str) -> bool:
    return subprocess.run([str(STACK), "status", part], capture_output=True).returncode == 0


@pytest_asyncio.fixture(scope="session", autouse=True, loop_scope="session")
async def no_task_outlives_the_session() -> AsyncIterator[None]:
    """A background task left running by a test would hang the event loop's close at the very end (asyncio
    cancels leftovers once and waits forever). Cancel them here, again and again for a while, then name the
    ones that would not stop and fail."""
    yield
    current = asyncio.current_task()
    deadline = time.monotonic() + 20
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not pending or time.monotonic() > deadline:
            break
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
    if pending:
        stacks = io.StringIO()
        for task in pending:
            task.print_stack(file=stacks)
        pytest.fail(f"{len(pending)} task(s) outlived the session and ignore cancellation:\n{stacks.getvalue()}")


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
async def topics(settings: ServiceSettings) -> AsyncIterator[list[str]]:
    """The test's topics, deleted afterwards: a long-lived local broker would otherwise collect thousands of
    partition directories (and run out of file handles)."""
    yield await ensure_topics(settings.kafka_bootstrap_servers, settings.topics, settings.topic_partitions)
    await delete_topics(settings.kafka_bootstrap_servers, settings.topics)


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


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4's lazy loader reads `Node._nodeid`, which pytest 9.2 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
