"""Helpers for tests that use the real stack: unique names, deadline polls, free ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from services.common.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[1]
STACK = REPO / "deploy" / "local" / "stack.sh"
T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """Polls `check` until it returns something other than None/False, or fails naming `what`."""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = await check()
            if result is not None and result is not False:
                return result
        except Exception as exc:  # keep polling; report the last error at the deadline
            last_error = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within} s (last error: {last_error!r})")


def settings_env(settings: ServiceSettings, **extra: str) -> dict[str, str]:
    """The environment that makes a `stagetrack serve` subprocess use these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGETRACK_")}
    env.update(
        STAGETRACK_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        STAGETRACK_DATABASE_URL=settings.database_url,
        STAGETRACK_DATABASE_SCHEMA=settings.database_schema,
        STAGETRACK_EVENTS_TOPIC=settings.events_topic,
        STAGETRACK_LEAD_EVENTS_TOPIC=settings.lead_events_topic,
        STAGETRACK_DEAD_LETTER_TOPIC=settings.dead_letter_topic,
    )
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def served(service: str, settings: ServiceSettings, log: Path, **env: str) -> AsyncIterator[str]:
    """Runs `stagetrack serve SERVICE` as a real process on a free port; yields its base URL."""
    async with served_process(service, settings, log, **env) as (url, _):
        yield url


@contextlib.asynccontextmanager
async def served_process(
    service: str, settings: ServiceSettings, log: Path, **env: str
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """`served`, yielding the process too."""
    port = free_port()
    name = {"ingest": "INGEST", "engine": "ENGINE", "kpi": "KPI", "dispatch": "DISPATCH"}[service]
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", service],
        env=settings_env(settings, **{f"STAGETRACK_{name}_PORT": str(port)}, **env),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2) as client:

            async def alive() -> bool:
                assert proc.poll() is None, f"{service} exited: {log.read_text()[-2000:]}"
                return (await client.get(f"{url}/healthz")).status_code == 200

            await eventually(alive, 30, f"{service} answering on {url}")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (the engine's outbox publisher), from /proc/*/stat."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                state, parent = entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[:2]
                if int(parent) == pid and state != "Z":
                    found.append(int(entry.name))
    return found


async def consume(settings: ServiceSettings, topic: str, count: int, within: float = 30) -> list[ConsumerRecord]:
    """Reads `topic` from the beginning until `count` records arrived, then a little longer to catch extras."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=unique("group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000 if len(records) >= count else 5000)
            got = [r for rs in batch.values() for r in rs]
            if not got and len(records) >= count:
                break
            records += got
    finally:
        await consumer.stop()
    return records
