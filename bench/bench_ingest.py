"""Ingest events/s (POST /v1/events, batches of 100, one uvicorn worker) beside (a) a bare FastAPI endpoint
that only parses the same body and (b) aiokafka sending the same records directly, same producer settings.

All three run in the same run, against the same local Kafka, each ROUNDS times, interleaved; the median pass
of each is reported. docs/benchmarks.md explains the method and records the numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaProducer

from bench.harness import Result, http_posts, measure, report, scratch_stack, send_requests, served
from services.common.envelope import encode
from services.common.kafka import durable_producer
from services.common.keys import KeyStore
from services.common.service import database
from services.common.settings import ServiceSettings
from services.ingest.domain.schemas import default_schemas_dir, load_validators
from services.ingest.domain.validation import EventValidator
from tests.stack import free_port, settings_env

EVENTS = int(os.environ.get("BENCH_INGEST_EVENTS", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BATCH = 100
IN_FLIGHT = 8  # requests (for (b): batches of 100 records) in flight at once
WARM_UP_BATCHES = 200
SETTLE_SECONDS = 1.0  # a pause before each pass: no pass starts while the previous one's tail is still busy
REPO = Path(__file__).resolve().parents[1]

INGEST = "stagetrack ingest POST /v1/events"
BARE = "(a) bare FastAPI, parse only"
DIRECT = "(b) aiokafka direct, acks=all idempotent"

Records = list[tuple[bytes, bytes]]  # (key, value) of one batch, as the ingest sends them
Pass = Callable[[int], Awaitable[float]]  # sends the first n batches; returns the seconds taken
Server = tuple[str, psutil.Process]  # base URL, process


def page_views(run: str, count: int) -> list[dict[str, Any]]:
    """Anonymous tracker page views: the ingest's commonest event, and the one the personal-data guard walks.
    Each has a timestamp of its own (no cache helps); 5,000 visitors send 10 each, as trackers do."""
    start = datetime(2026, 11, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    return [
        {
            "event_id": f"{run}-{i}",
            "type": "page_viewed",
            "occurred_at": (start + timedelta(milliseconds=i)).isoformat(timespec="milliseconds"),
            "anonymous_id": f"anon-{run}-{i % 5000}",
            "properties": {
                "path": "/pricing",
                "title": "Pricing",
                "campaign": "q4",
                "url": "https://example.test/pricing?utm_source=news",
                "referrer": "https://www.google.com/",
            },
        }
        for i in range(count)
    ]


def request_bodies(events: Sequence[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps({"events": events[i : i + BATCH]}) for i in range(0, len(events), BATCH)]


def kafka_records(bodies: Sequence[bytes]) -> list[Records]:
    """The records the ingest would send for each body: validated, stamped and encoded the same way."""
    validator = EventValidator(load_validators(default_schemas_dir()))
    batches = []
    for body in bodies:
        result = validator.validate_batch(orjson.loads(body)["events"], source="bench", received_at=datetime.now(UTC))
        assert not result.errors, result.errors
        batches.append([(e.partition_key.encode(), encode(e)) for _, e in result.accepted])
    return batches


async def send_direct(producer: AIOKafkaProducer, topic: str, batches: Sequence[Records], n: int) -> float:
    """(b): the first n batches by IN_FLIGHT senders, each sending a batch and awaiting every acknowledgement,
    as the ingest does; returns the seconds taken."""
    pending = iter(batches[:n])

    async def sender() -> None:
        for batch in pending:
            futures = [await producer.send(topic, value, key=key) for key, value in batch]
            await asyncio.gather(*futures)

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
    return asyncio.get_running_loop().time() - started


async def create_key(settings: ServiceSettings) -> str:
    async with database(settings) as engine:
        return await KeyStore(engine).create("bench")


def http_pass(url: str, bodies: Sequence[bytes], key: str) -> Pass:
    requests = http_posts(f"{url}/v1/events", bodies, {"Authorization": f"Bearer {key}"})
    return lambda n: send_requests(url, requests[:n], 202, IN_FLIGHT)


async def rounds(contenders: dict[str, tuple[Pass, psutil.Process | None]], batches: int) -> dict[str, list[Result]]:
    """A warm-up pass of each, then ROUNDS passes of each, interleaved (so drift hits all alike)."""
    for run_pass, _ in contenders.values():
        await run_pass(WARM_UP_BATCHES)
    passes: dict[str, list[Result]] = {name: [] for name in contenders}
    for _ in range(ROUNDS):
        for name, (run_pass, server) in contenders.items():
            await asyncio.sleep(SETTLE_SECONDS)
            passes[name].append(await measure(name, batches * BATCH, functools.partial(run_pass, batches), server))
    return passes


@contextlib.asynccontextmanager
async def started_producer(settings: ServiceSettings) -> AsyncIterator[AIOKafkaProducer]:
    # the ingest's own producer settings
    producer = durable_producer(settings.kafka_bootstrap_servers, security=settings.kafka_security)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def http_servers(settings: ServiceSettings) -> AsyncIterator[tuple[Server, Server]]:
    """(a) and the ingest, each one uvicorn worker in a process of its own: (base URL, process) of each."""
    bare_port, ingest_port = free_port(), free_port()
    bare_argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port)]
    ingest_argv = [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "ingest"]
    ingest_env = settings_env(settings, STAGETRACK_INGEST_PORT=str(ingest_port), STAGETRACK_LOG_LEVEL="WARNING")
    async with (
        served(bare_argv, bare_port, "/openapi.json") as bare,
        served(ingest_argv, ingest_port, "/readyz", ingest_env) as ingest,
    ):
        yield bare, ingest


async def run() -> None:
    load_before = os.getloadavg()[0]  # other work on the machine skews every contender: shown with the result
    async with scratch_stack("bench_ingest") as settings:
        key = await create_key(settings)
        bodies = request_bodies(page_views(uuid.uuid4().hex[:8], EVENTS))
        records = kafka_records(bodies)
        async with started_producer(settings) as producer, http_servers(settings) as (bare, ingest):
            contenders = {
                DIRECT: (functools.partial(send_direct, producer, settings.events_topic, records), None),
                BARE: (http_pass(bare[0], bodies, key), bare[1]),
                INGEST: (http_pass(ingest[0], bodies, key), ingest[1]),
            }
            passes = await rounds(contenders, len(bodies))
    print(
        f"  {ROUNDS} rounds of {len(bodies) * BATCH:,} events in batches of {BATCH}, {IN_FLIGHT} in flight;"
        f" {os.cpu_count()} CPUs, load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    report(passes, subject=INGEST, baselines=[DIRECT, BARE], target=(DIRECT, 0.5))
