"""`stagetrack serve engine` publishes stagetrack.lead-events from a child process: everything the store holds
reaches Kafka and the published-position metric; a crashed publisher process is replaced; and when the engine
is killed with SIGKILL its publisher does not outlive it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.stack import children, eventually, served_process, unique


async def _published(url: str) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        metrics = (await client.get(f"{url}/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("stagetrack_engine_published_position "))
    return float(line.split()[1])


async def _last_position(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT coalesce(max(position), 0) FROM lead_events")) or 0)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # exited, not yet reaped


async def test_the_publisher_process_publishes_is_replaced_and_dies_with_the_engine(
    engine_settings: EngineSettings, engine: AsyncEngine, producer: Producer, tmp_path: Path
) -> None:
    log = tmp_path / "engine.log"
    async with served_process("engine", engine_settings, log, STAGETRACK_CONSUMER_GROUP=unique("g")) as (url, proc):
        pid = proc.pid
        [publisher] = await eventually(lambda: _one_child(pid), 30, "the outbox publisher process")

        await producer.send([envelope("op-1", "page_viewed", "2026-03-01T10:00:00+00:00", anonymous_id="a-1")])
        first = await eventually(lambda: _beyond(engine, 0), 30, "the engine storing the page view")
        await eventually(lambda: _at_least(url, first), 30, f"position {first} published")

        os.kill(publisher, signal.SIGKILL)
        replacement = await eventually(lambda: _other_child(pid, publisher), 30, "a new publisher process")
        await producer.send([envelope("op-2", "page_viewed", "2026-03-01T10:05:00+00:00", anonymous_id="a-2")])
        second = await eventually(lambda: _beyond(engine, first), 30, "the engine storing the second page view")
        await eventually(lambda: _at_least(url, second), 30, f"position {second} published by the new process")

        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: _async(_gone(replacement)), 30, "the publisher exiting with the killed engine")
        assert proc.wait(timeout=10) == -signal.SIGKILL


async def _one_child(pid: int) -> list[int] | None:
    found = children(pid)
    return found if len(found) == 1 else None


async def _other_child(pid: int, old: int) -> int | None:
    found = [child for child in children(pid) if child != old]
    return found[0] if found else None


async def _at_least(url: str, position: int) -> bool:
    return await _published(url) >= position


async def _beyond(engine: AsyncEngine, position: int) -> int | None:
    last = await _last_position(engine)
    return last if last > position else None


async def _async(value: bool) -> bool:
    return value
