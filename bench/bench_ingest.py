"""Ingest events/s (POST /v1/events, batches of 100, one uvicorn worker) beside (a) a bare FastAPI endpoint
that only parses the same body and (b) aiokafka sending the same records directly, same producer settings.

The workload mixes identified events (forms with an email, a phone and a name; identify calls with traits; CRM
events with a lead id) among the page views, and the ingest runs with personal data sealed (keys of its own,
the key store in the scratch schema): a sample it published is read back and must be sealed. (b) sends the same
records sealed beforehand. All three run in the same run, against the same local Kafka, each ROUNDS times,
interleaved, each round on persons new to the key store; the median pass of each is reported. docs/benchmarks.md
explains the method and records the numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import psutil
from aiokafka import AIOKafkaProducer

from bench.harness import Result, http_posts, measure, report, scratch_stack, send_requests, served
from bench.ingest_seal_check import PersonalKeys, assert_sealed
from bench.ingest_workload import (
    BATCH,
    IDENTIFIED_EVERY,
    KINDS,
    Records,
    events,
    kafka_records,
    new_run_id,
    request_bodies,
)
from services.common.kafka import durable_producer
from services.common.keys import KeyStore
from services.common.service import database
from services.common.settings import ServiceSettings
from tests.stack import free_port, settings_env

EVENTS = int(os.environ.get("BENCH_INGEST_EVENTS", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
IN_FLIGHT = 8  # requests (for (b): batches of 100 records) in flight at once
WARM_UP_BATCHES = 200
SETTLE_SECONDS = 1.0  # a pause before each pass: no pass starts while the previous one's tail is still busy
REPO = Path(__file__).resolve().parents[1]

INGEST = "stagetrack ingest POST /v1/events"
BARE = "(a) bare FastAPI, parse only"
DIRECT = "(b) aiokafka direct, acks=all idempotent"

Pass = Callable[[int, int], Awaitable[float]]  # sends the first n batches of workload w; returns the seconds taken
Server = tuple[str, psutil.Process]  # base URL, process
CHECKED_BATCHES = 5  # sent to the ingest before any pass, and read back to prove it seals


async def send_direct(
    producer: AIOKafkaProducer, topic: str, workloads: Sequence[list[Records]], w: int, n: int
) -> float:
    """(b): the first n batches of workload w by IN_FLIGHT senders, each sending a batch and awaiting every
    acknowledgement, as the ingest does; returns the seconds taken."""
    pending = iter(workloads[w][:n])

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


def http_pass(url: str, workloads: Sequence[list[bytes]], key: str) -> Pass:
    headers = {"Authorization": f"Bearer {key}"}
    requests = [http_posts(f"{url}/v1/events", bodies, headers) for bodies in workloads]
    return lambda w, n: send_requests(url, requests[w][:n], 202, IN_FLIGHT)


async def rounds(contenders: dict[str, tuple[Pass, psutil.Process | None]], batches: int) -> dict[str, list[Result]]:
    """A warm-up pass of each (workload 0), then ROUNDS passes of each, interleaved (so drift hits all alike);
    round r sends workload r, whose persons are new to the ingest's key store."""
    for run_pass, _ in contenders.values():
        await run_pass(0, WARM_UP_BATCHES)
    passes: dict[str, list[Result]] = {name: [] for name in contenders}
    for r in range(1, ROUNDS + 1):
        for name, (run_pass, server) in contenders.items():
            await asyncio.sleep(SETTLE_SECONDS)
            timed = functools.partial(run_pass, r, batches)
            passes[name].append(await measure(name, batches * BATCH, timed, server))
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
async def http_servers(settings: ServiceSettings, keys: PersonalKeys) -> AsyncIterator[tuple[Server, Server]]:
    """(a) and the ingest, each one uvicorn worker in a process of its own: (base URL, process) of each."""
    bare_port, ingest_port = free_port(), free_port()
    bare_argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port)]
    ingest_argv = [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "ingest"]
    ingest_env = settings_env(
        settings, STAGETRACK_INGEST_PORT=str(ingest_port), STAGETRACK_LOG_LEVEL="WARNING", **keys.env()
    )
    async with (
        served(bare_argv, bare_port, "/openapi.json") as bare,
        served(ingest_argv, ingest_port, "/readyz", ingest_env) as ingest,
    ):
        yield bare, ingest


async def run() -> None:
    load_before = os.getloadavg()[0]  # other work on the machine skews every contender: shown with the result
    keys, data_key, run_id = PersonalKeys(), os.urandom(32), new_run_id()
    workloads = [events(f"{run_id}-{w}", EVENTS) for w in range(ROUNDS + 1)]  # 0: the warm-up
    bodies = [request_bodies(workload) for workload in workloads]
    records = [await kafka_records(b, keys.hash_key, data_key) for b in bodies]
    async with scratch_stack("bench_ingest") as settings:
        key = await create_key(settings)
        async with started_producer(settings) as producer, http_servers(settings, keys) as (bare, ingest):
            ingest_pass = http_pass(ingest[0], bodies, key)
            await ingest_pass(0, CHECKED_BATCHES)  # before anything else writes the topic
            sealed = await assert_sealed(settings, workloads[0][: CHECKED_BATCHES * BATCH], keys)
            contenders = {
                DIRECT: (functools.partial(send_direct, producer, settings.events_topic, records), None),
                BARE: (http_pass(bare[0], bodies, key), bare[1]),
                INGEST: (ingest_pass, ingest[1]),
            }
            passes = await rounds(contenders, len(bodies[0]))
    print(
        f"  {ROUNDS} rounds of {len(bodies[0]) * BATCH:,} events in batches of {BATCH}, {IN_FLIGHT} in flight;"
        f" {os.cpu_count()} CPUs, load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"  1 event in {IDENTIFIED_EVERY} identified, 1 in {KINDS} of those naming a person seen first;"
        f" sealing on: {sealed} of the {CHECKED_BATCHES * BATCH} events read back sealed, none in plaintext"
    )
    report(passes, subject=INGEST, baselines=[DIRECT, BARE], target=(DIRECT, 0.5))
