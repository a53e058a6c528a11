"""Faults for the ingest's outage tests, without touching the shared stack: a cuttable TCP path to the real
PostgreSQL, and a private Kafka broker of the test's own that can be stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tests.stack import REPO, free_port

KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"


class CuttableProxy:
    """A TCP forwarder the test can cut (open connections reset, new ones refused) and restore.

    It runs its own event loop in a thread: `served` waits for its process synchronously on the test's loop,
    and the service's shutdown (closing its database connections) must still get through meanwhile."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cuttable-proxy", daemon=True)
        self._thread.start()

    async def start(self) -> None:
        await self._in_thread(self._start())

    async def cut(self) -> None:
        await self._in_thread(self._cut())

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _in_thread(self, work: Coroutine[Any, Any, None]) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, server_writer}
        self._writers |= pair
        await asyncio.gather(
            _pipe(client_reader, server_writer), _pipe(server_reader, client_writer), return_exceptions=True
        )
        self._writers -= pair


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


@contextlib.asynccontextmanager
async def cuttable_proxy(database_url: str) -> AsyncIterator[tuple[CuttableProxy, str]]:
    """A started proxy to the database of `database_url`, and the URL that reaches the database through it."""
    url = make_url(database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        yield proxy, url.set(port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.close()


class PrivateKafka:
    """A single-node Kafka of the test's own (deploy/local/kafka.sh with its own ports and folder, the jars of the
    shared stack), so a test can stop it without stopping the broker every other test uses."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.controller_port = free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        shared = Path(os.environ.get("STAGETRACK_LOCAL", REPO / ".local")) / "kafka" / "lib"
        (root / "kafka").mkdir(parents=True, exist_ok=True)
        (root / "kafka" / "lib").symlink_to(shared, target_is_directory=True)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self._run("start")

    async def stop(self) -> None:
        await self._run("stop")

    async def _run(self, action: str) -> None:
        env = {
            **os.environ,
            "STAGETRACK_LOCAL": str(self.root),
            "STAGETRACK_KAFKA_PORT": str(self.port),
            "STAGETRACK_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HEAP_OPTS": "-Xmx384m -Xms128m",
        }
        proc = await asyncio.create_subprocess_exec(str(KAFKA_SH), action, env=env, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        assert proc.returncode == 0, f"kafka.sh {action} (private broker) failed: {err.decode()}"


@contextlib.asynccontextmanager
async def private_kafka(root: Path) -> AsyncIterator[PrivateKafka]:
    """A started private broker under `root`, stopped afterwards whatever the test did to it."""
    kafka = PrivateKafka(root)
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()
