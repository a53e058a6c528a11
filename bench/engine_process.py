"""The stage engine as a real process (`stagetrack serve engine`) for the benchmark: start, pause/resume,
progress read from the store's consumer offsets, memory read from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from services.common.settings import ServiceSettings
from tests.stack import children, free_port, settings_env, unique

REPO = Path(__file__).resolve().parents[1]
SERVE_ENGINE = (str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "engine")
NO_OUTBOX = (str(REPO / ".venv" / "bin" / "python"), "-m", "bench.engine_no_outbox")


def dsn(settings: ServiceSettings) -> str:
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def connect(settings: ServiceSettings) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn(settings),
        server_settings={"search_path": settings.database_schema},
        ssl=settings.database_tls.ssl_argument(),
    )
    return conn


def proc_status(pid: int, field: str) -> int:
    """A memory line of /proc/<pid>/status (VmRSS, VmHWM) in bytes."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match, f"{field} not in /proc/{pid}/status"
    return int(match.group(1)) * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(argv: Sequence[str], settings: ServiceSettings, port: int, group: str, log: Path) -> subprocess.Popen[bytes]:
    env = settings_env(
        settings, STAGETRACK_ENGINE_PORT=str(port), STAGETRACK_LOG_LEVEL="WARNING", STAGETRACK_CONSUMER_GROUP=group
    )
    with log.open("ab") as out:
        return subprocess.Popen(list(argv), env=env, stdout=out, stderr=out, cwd=REPO)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGCONT)
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Engine:
    proc: subprocess.Popen[bytes]
    url: str
    group: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def pause(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def processes(self) -> list[int]:
        """The engine and its outbox publisher process (when it has one)."""
        return [self.pid, *children(self.pid)]

    def rss(self) -> int:
        return sum(proc_status(pid, "VmRSS") for pid in self.processes())

    def peak_rss(self) -> list[int]:
        """Peak RSS (VmHWM) of each process, the engine's first."""
        return [proc_status(pid, "VmHWM") for pid in self.processes()]

    def cpu_seconds(self) -> float:
        """CPU time so far of the engine and its outbox publisher process."""
        return sum(cpu_seconds(pid) for pid in self.processes())

    async def metric(self, sample: str) -> float:
        """The sum of the samples on /metrics named `sample` (a name, or a name with its labels in braces)."""
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"{self.url}/metrics")).text
        total = 0.0
        for line in text.splitlines():
            key, _, value = line.rpartition(" ")
            if key == sample or key.startswith(sample + "{"):
                total += float(value)
        return total

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"engine exited ({self.proc.returncode}); log: {self.log.read_text()[-3000:]}")


@contextlib.asynccontextmanager
async def engine_process(
    settings: ServiceSettings, log: Path, argv: Sequence[str] = SERVE_ENGINE
) -> AsyncIterator[Engine]:
    port, group = free_port(), unique("bench_engine")
    engine = Engine(_spawn(argv, settings, port, group, log), f"http://127.0.0.1:{port}", group, log)
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                engine.alive()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{engine.url}/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("engine not healthy within 60 s")
                await asyncio.sleep(0.1)
        yield engine
    finally:
        _stop(engine.proc)


async def wait_caught_up(
    settings: ServiceSettings,
    engine: Engine,
    ends: dict[int, int],
    within: float,
    every: float = 0.05,
    on_poll: Callable[[int], None] | None = None,
) -> float:
    """Polls consumer_offsets until every partition's stored next offset reached `ends`; returns the time.

    `on_poll(records_done)` is called on each poll (the memory run samples RSS there)."""
    conn = await connect(settings)
    try:
        deadline = time.monotonic() + within
        while True:
            rows = await conn.fetch(
                "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
                engine.group,
                settings.events_topic,
            )
            stored = {r["partition"]: r["next_offset"] for r in rows}
            if on_poll is not None:
                on_poll(sum(min(stored.get(p, 0), end) for p, end in ends.items()))
            if all(stored.get(p, 0) >= end for p, end in ends.items()):
                return time.perf_counter()
            engine.alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"engine did not catch up within {within:.0f} s: {stored} of {ends}")
            await asyncio.sleep(every)
    finally:
        await conn.close()


async def wait_published(engine: Engine, position: int, within: float, every: float = 0.05) -> None:
    """Polls the engine's published-position gauge until the outbox process published `position`: the warm-up
    waits for it, or the publisher's own start (imports, first connections, ~0.75 s of CPU) would be timed."""
    deadline = time.monotonic() + within
    while await engine.metric("stagetrack_engine_published_position") < position:
        engine.alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the outbox did not publish position {position} within {within:.0f} s")
        await asyncio.sleep(every)
