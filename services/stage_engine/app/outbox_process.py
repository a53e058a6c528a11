"""The outbox publisher in a child process of `stagetrack serve engine`.

Why a process: on the consumer's event loop, publishing stagetrack.lead-events (reading the rows, building
Kafka batches, waiting for acks) took ~20 % of the engine's throughput (docs/benchmarks-engine.md). In a
process of its own it runs on another core. What it publishes and its guarantees are unchanged
(`adapters/outbox.py`: one publisher per store by an advisory lock, cursor moved after Kafka acknowledged).

Lifecycle: `OutboxProcess.run` (a task of the engine) starts `python -m services.stage_engine.app.outbox_process`,
hands it the settings on stdin, reads the positions it published from its stdout (the metric), and starts
another if it exits; cancelling the task stops the child (SIGTERM, SIGKILL after a deadline). If the engine
dies without stopping it (kill -9), the kernel sends the child SIGTERM (PR_SET_PDEATHSIG), so no orphan keeps
publishing. The child ignores SIGINT: Ctrl-C reaches the whole process group, and the engine stops it in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import pickle
import signal
import sys

import uvloop
from prometheus_client import CollectorRegistry, Gauge

from services.common.garbage import tuned_gc
from services.common.observability import configure_logging
from services.common.service import database
from services.stage_engine.adapters.outbox import OutboxPublisher
from services.stage_engine.app.garbage import YOUNG_THRESHOLD
from services.stage_engine.app.settings import EngineSettings

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class OutboxProcess:
    def __init__(self, settings: EngineSettings, registry: CollectorRegistry, restart_seconds: float = 1.0) -> None:
        self._settings = settings
        self._restart = restart_seconds
        self._published = 0
        Gauge(
            "stagetrack_engine_published_position",
            "Store position published to stagetrack.lead-events",
            registry=registry,
        ).set_function(lambda: float(self._published))

    async def run(self) -> None:
        while True:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                str(os.getpid()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                await self._follow(child)
            finally:
                await _stop(child)
            log.error("outbox publisher process exited (code %s); starting another", child.returncode)
            await asyncio.sleep(self._restart)

    async def _follow(self, child: asyncio.subprocess.Process) -> None:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(pickle.dumps(self._settings))
        await child.stdin.drain()
        child.stdin.close()
        async for line in child.stdout:  # one line per acknowledged batch: the last position published
            self._published = int(line)
        await child.wait()


async def _stop(child: asyncio.subprocess.Process, timeout_seconds: float = 10.0) -> None:
    if child.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(child.wait()), timeout_seconds)
    except TimeoutError:
        log.error("outbox publisher process did not stop within %.0f s; killing it", timeout_seconds)
        with contextlib.suppress(ProcessLookupError):
            child.kill()


def main() -> None:
    """The child: dies with the engine, publishes until SIGTERM, reports each published position."""
    parent = int(sys.argv[1])
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the engine died before the line above took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = pickle.loads(sys.stdin.buffer.read())  # from the engine that started this process
    assert isinstance(settings, EngineSettings)
    configure_logging(settings.log_level)
    # uvloop, like the engine's own loop (uvicorn picks it): its sockets and callbacks cost the publisher less CPU
    # per row, and that CPU is taken from the engine and PostgreSQL on the same machine.
    with tuned_gc(YOUNG_THRESHOLD):
        uvloop.run(_publish(settings))


async def _publish(settings: EngineSettings) -> None:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)

    def report(position: int) -> None:
        sys.stdout.write(f"{position}\n")
        sys.stdout.flush()

    async with database(settings) as engine:
        publisher = OutboxPublisher(
            engine,
            settings.kafka_bootstrap_servers,
            settings.lead_events_topic,
            report,
            security=settings.kafka_security,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await publisher.run()


if __name__ == "__main__":
    main()
