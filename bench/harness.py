"""What the benchmarks share: a scratch schema and topics on the local stack, servers run as real processes,
a light HTTP load client, and the report."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
import psutil
from sqlalchemy import text

from services.common import db
from services.common.kafka import delete_topics, ensure_topics
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Result:
    """One timed pass: `events` in `seconds`; CPU used meanwhile, in cores (1.0 = one core busy throughout)."""

    name: str
    events: int
    seconds: float
    client_cpu: float
    server_cpu: float | None

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@contextlib.asynccontextmanager
async def scratch_stack(prefix: str) -> AsyncIterator[ServiceSettings]:
    """Settings aimed at the local stack with a database schema and topics of their own, dropped afterwards."""
    suffix = f"{prefix}_{uuid.uuid4().hex[:8]}"
    settings = ServiceSettings(
        database_schema=suffix,
        events_topic=f"{suffix}.events",
        lead_events_topic=f"{suffix}.lead-events",
        dead_letter_topic=f"{suffix}.dead-letter",
    )
    await upgrade(settings.database_url, settings.database_schema, tls=settings.database_tls)
    await ensure_topics(
        settings.kafka_bootstrap_servers, settings.topics, settings.topic_partitions, security=settings.kafka_security
    )
    try:
        yield settings
    finally:
        await _drop_scratch(settings)


async def _drop_scratch(settings: ServiceSettings) -> None:
    engine = db.create_engine(settings.database_url, tls=settings.database_tls)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE'))
    finally:
        await engine.dispose()
    await delete_topics(settings.kafka_bootstrap_servers, settings.topics, security=settings.kafka_security)


@contextlib.contextmanager
def process(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[psutil.Process]:
    """A server as a real process (its output discarded), terminated on exit."""
    proc = subprocess.Popen(list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def served(
    argv: Sequence[str], port: int, ready_path: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[str, psutil.Process]]:
    """A server process listening on 127.0.0.1:`port`; yields (base URL, process) once `ready_path` answers 200."""
    with process(argv, env) as server:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url + ready_path, server)
        yield url, server


async def wait_ready(url: str, server: psutil.Process, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if not server.is_running() or server.status() == psutil.STATUS_ZOMBIE:
                raise RuntimeError(f"the server for {url} exited")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready within {within} s")
            await asyncio.sleep(0.1)


def http_posts(url: str, bodies: Sequence[bytes], headers: Mapping[str, str]) -> list[bytes]:
    """Each body as a complete HTTP/1.1 keep-alive POST request, encoded before any timing starts."""
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = "\r\n".join(lines).encode()
    return [head + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body for body in bodies]


async def send_requests(url: str, requests: Sequence[bytes], expect_status: int, connections: int) -> float:
    """Sends the requests over `connections` keep-alive connections, one request in flight on each; returns
    the seconds taken. Raw asyncio streams cost far less CPU per request than an HTTP client library, so the
    server is what is measured (the parse-only baseline shows this client's ceiling)."""
    parts = urlsplit(url)
    streams = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(connections)]
    pending = iter(requests)  # shared by the workers: each takes the next request when its previous one answered

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for request in pending:
            writer.write(request)
            status, body = await _read_response(reader)
            if status != expect_status:
                raise RuntimeError(f"{url} answered {status}, not {expect_status}: {body[:500]!r}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(reader, writer) for reader, writer in streams))
        return time.perf_counter() - started
    finally:
        for _, writer in streams:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = _CONTENT_LENGTH.search(head)
    if length is None:
        raise RuntimeError(f"a response without Content-Length: {head[:200]!r}")
    return int(head[9:12]), await reader.readexactly(int(length[1]))


async def measure(
    name: str, events: int, run: Callable[[], Awaitable[float]], server: psutil.Process | None = None
) -> Result:
    """Times `run` (it returns its own seconds) and the CPU this process and `server` used meanwhile."""
    client_before, server_before = time.process_time(), _cpu_seconds(server)
    wall_before = time.perf_counter()
    seconds = await run()
    wall = time.perf_counter() - wall_before
    client_cpu = (time.process_time() - client_before) / wall
    server_cpu = None if server is None else (_cpu_seconds(server) - server_before) / wall
    return Result(name, events, seconds, client_cpu, server_cpu)


def _cpu_seconds(server: psutil.Process | None) -> float:
    if server is None:
        return 0.0
    times = server.cpu_times()
    return float(times.user + times.system)


class Rated(Protocol):
    @property
    def rate(self) -> float: ...


AnyPass = TypeVar("AnyPass", bound=Rated)


def median_result(results: Sequence[AnyPass]) -> AnyPass:
    """The pass with the median rate (the upper one of the middle two for an even count)."""
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


def report(
    passes: Mapping[str, Sequence[Result]], subject: str, baselines: Sequence[str], target: tuple[str, float]
) -> None:
    """One row per contender (its median pass, and the rate of every pass), then the subject's rate over each
    baseline's, as the ratio of the medians and per round; `target` = (baseline, minimum ratio)."""
    medians = {name: median_result(results) for name, results in passes.items()}
    width = max(len(name) for name in passes)
    header = f"{'events':>7}  {'seconds':>7}  {'events/s':>8}  client CPU  server CPU  every pass, events/s"
    print(f"  {'':<{width}}  {header}")
    for name, r in medians.items():
        server = "-" if r.server_cpu is None else f"{r.server_cpu:.0%}"
        every = " / ".join(f"{p.rate:,.0f}" for p in passes[name])
        print(
            f"  {name:<{width}}  {r.events:>7,}  {r.seconds:>7.2f}  {r.rate:>8,.0f}  {r.client_cpu:>10.0%}"
            f"  {server:>10}  {every}"
        )
    for name in baselines:
        ratio = medians[subject].rate / medians[name].rate
        rounds = ", ".join(f"{a.rate / b.rate:.2f}" for a, b in zip(passes[subject], passes[name], strict=True))
        goal = f"; target >= {target[1]}" if name == target[0] else ""
        print(f"  ratio {subject} / {name}: {ratio:.2f} (per round: {rounds}{goal})")
