"""Ingest events/s (POST /v1/events, batches of 100, one uvicorn worker) beside (a) a bare FastAPI endpoint
that only parses the same body and (b) aiokafka sending the same records directly, same producer settings."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from bench.harness import Result, report, stack_settings, wait_ready
from services.common.envelope import encode
from services.common.kafka import durable_producer, ensure_topics
from services.common.migrate import upgrade
from services.common.service import database
from services.ingest.adapters.source_keys import SourceKeys
from tests.stack import free_port, settings_env

EVENTS = int(os.environ.get("BENCH_INGEST_EVENTS", "60000"))
BATCH = 100
CONCURRENCY = 8
REPO = Path(__file__).resolve().parents[1]


def batches(run: str) -> list[bytes]:
    import orjson

    out = []
    for b in range(EVENTS // BATCH):
        events = [
            {
                "event_id": f"{run}-{b}-{i}",
                "type": "page_viewed",
                "occurred_at": "2026-11-01T09:00:00+09:00",
                "anonymous_id": f"anon-{run}-{(b * BATCH + i) % 5000}",
                "properties": {
                    "path": "/pricing",
                    "title": "Pricing",
                    "campaign": "q4",
                    "url": "https://example.test/pricing",
                },
            }
            for i in range(BATCH)
        ]
        out.append(orjson.dumps({"events": events}))
    return out


async def post_all(url: str, bodies: list[bytes], key: str) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post("/v1/events", content=body)
                assert response.status_code == 202, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def serve(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run() -> None:
    settings = stack_settings("bench_ingest")
    await upgrade(settings.database_url, settings.database_schema)
    await ensure_topics(settings.kafka_bootstrap_servers, settings.topics, settings.topic_partitions)
    async with database(settings) as engine:
        key = await SourceKeys(engine).create("bench")
    run_id = uuid.uuid4().hex[:8]
    bodies = batches(run_id)
    results: list[Result] = []

    # (b) aiokafka directly: the same records, the same durable producer settings, 100 per batch awaited.
    from datetime import UTC, datetime

    import orjson

    from services.ingest.domain.schemas import load_validators
    from services.ingest.domain.validation import EventValidator

    validator = EventValidator(load_validators(REPO / "schemas"))
    records = []
    for body in bodies:
        accepted = validator.validate_batch(
            orjson.loads(body)["events"], source="bench", received_at=datetime.now(UTC)
        ).accepted
        records.append([(e.partition_key.encode(), encode(e)) for _, e in accepted])
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        started = time.perf_counter()
        sem = asyncio.Semaphore(CONCURRENCY)

        async def send_batch(batch: list[tuple[bytes, bytes]]) -> None:
            async with sem:
                futures = [await producer.send(settings.events_topic, v, key=k) for k, v in batch]
                await asyncio.gather(*futures)

        await asyncio.gather(*(send_batch(b) for b in records))
        results.append(Result("(b) aiokafka direct, acks=all idempotent", EVENTS, time.perf_counter() - started))
    finally:
        await producer.stop()

    # (a) bare FastAPI parse-only endpoint, one uvicorn worker.
    port = free_port()
    bare = serve(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port), "--log-level", "warning"],
        dict(os.environ),
        port,
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/docs")
        seconds = await post_all(f"http://127.0.0.1:{port}", bodies, key)
        results.append(Result("(a) bare FastAPI, parse only", EVENTS, seconds))
    finally:
        bare.terminate()
        bare.wait()

    # stagetrack ingest, one uvicorn worker.
    port = free_port()
    ingest = serve(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "ingest"],
        settings_env(settings, STAGETRACK_INGEST_PORT=str(port), STAGETRACK_LOG_LEVEL="WARNING"),
        port,
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz")
        await post_all(f"http://127.0.0.1:{port}", bodies[:20], key)  # warm-up: producer connection, caches
        seconds = await post_all(f"http://127.0.0.1:{port}", bodies, key)
        results.append(Result("stagetrack ingest POST /v1/events", EVENTS, seconds))
    finally:
        ingest.terminate()
        ingest.wait()

    report(results, subject="stagetrack ingest POST /v1/events", baselines=[r.name for r in results[:2]])
