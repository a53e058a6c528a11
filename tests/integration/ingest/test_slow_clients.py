"""Slow clients are cut off at the documented timeouts (set to 1 s here): one that opens a connection and
sends nothing, one that sends half its headers and stops, one that dribbles its headers a byte at a time, and
one that dribbles its body. Measured on raw sockets against `stagetrack serve ingest`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.stack import served

TIMEOUT = 1.0
LATEST = 3.0  # the cut-off's deadline in this test: the timeout plus room for a busy machine
HEAD = b"POST /v1/events HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"


@pytest.fixture
async def ingest_url(ingest_settings: IngestSettings, tmp_path: Path) -> AsyncIterator[str]:
    env = {"STAGETRACK_HEADER_TIMEOUT_SECONDS": str(TIMEOUT), "STAGETRACK_BODY_TIMEOUT_SECONDS": str(TIMEOUT)}
    async with served("ingest", ingest_settings, tmp_path / "ingest.log", **env) as url:
        yield url


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    target = urlsplit(url)
    return await asyncio.open_connection(target.hostname, target.port)


async def _until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, dribble: bytes = b"", every: float = 0.2
) -> tuple[float, bytes]:
    """Dribbles `dribble` a byte every `every` s while reading; returns when the server closed the connection
    (seconds since the call, what it sent). Fails if it stays open past LATEST."""
    started = time.monotonic()
    received = b""

    async def read_to_end() -> None:
        nonlocal received
        while chunk := await reader.read(4096):
            received += chunk

    reading = asyncio.create_task(read_to_end())
    with contextlib.suppress(ConnectionError):
        for byte in dribble:
            if reading.done():
                break
            writer.write(bytes([byte]))
            await asyncio.wait({reading}, timeout=every)
    with contextlib.suppress(ConnectionError):
        await asyncio.wait_for(reading, timeout=max(0.0, started + LATEST - time.monotonic()))
    return time.monotonic() - started, received


async def test_half_a_request_then_nothing_is_answered_408_and_closed_at_the_header_timeout(ingest_url: str) -> None:
    reader, writer = await _connect(ingest_url)
    writer.write(HEAD[:30])
    seconds, received = await _until_closed(reader, writer)
    writer.close()
    assert TIMEOUT * 0.9 <= seconds < LATEST, (seconds, received)
    assert received.startswith(b"HTTP/1.1 408 "), received


async def test_headers_dribbled_a_byte_at_a_time_are_cut_off_at_the_header_timeout(ingest_url: str) -> None:
    reader, writer = await _connect(ingest_url)
    seconds, received = await _until_closed(reader, writer, dribble=HEAD * 10)  # would take 30 s to send
    writer.close()
    assert TIMEOUT * 0.9 <= seconds < LATEST and received.startswith(b"HTTP/1.1 408 "), (seconds, received)


async def test_a_dribbled_body_is_answered_408_and_closed_at_the_body_timeout(
    ingest_url: str, key_store: KeyStore
) -> None:
    key = await key_store.create("slow-body")
    body = orjson.dumps({"events": [{"type": "page_viewed", "anonymous_id": "a" * 200}]})
    reader, writer = await _connect(ingest_url)
    writer.write(HEAD + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    seconds, received = await _until_closed(reader, writer, dribble=body)
    writer.close()
    assert TIMEOUT * 0.9 <= seconds < LATEST, (seconds, received)
    head, _, answer = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower(), received
    assert orjson.loads(answer)["errors"] == [
        {"index": None, "event_id": None, "field": "body", "reason": "the request body did not arrive within 1 s"}
    ]


async def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout_and_counted(ingest_url: str) -> None:
    reader, writer = await _connect(ingest_url)
    seconds, received = await _until_closed(reader, writer)
    writer.close()
    assert TIMEOUT * 0.9 <= seconds < LATEST and received == b"", (seconds, received)
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        for _ in range(3):  # a prompt client on one kept-alive connection is untouched
            metrics = (await client.get("/metrics")).text
    cut_off = {
        sample.labels["phase"]: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "stagetrack_slow_clients_cut_off_total" and sample.labels["service"] == "ingest"
    }
    assert cut_off == {"headers": 1.0, "body": 0.0}
