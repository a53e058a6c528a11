"""A flood of requests with made-up API keys, from its own process and source address (so it neither shares
the measuring client's event loop nor its address). Plain HTTP/1.1 over keep-alive sockets: a cheap client,
so that what the flood costs is the server's part.

usage: python -m tests.integration.ingest.flood URL COUNT SECONDS SOURCE_ADDRESS
Prints one JSON line: the statuses in the order answered, the first 429's Retry-After and body.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

CONCURRENCY = 10
BODY = b'{"events": []}'


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> tuple[int, dict, bytes]:
    key = "stk_" + secrets.token_urlsafe(32)  # a new wrong key each time: no cache can answer it
    writer.write(
        f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n".encode()
        + BODY
    )
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(head[0].split()[1]), headers, body


async def flood(url: str, count: int, seconds: float, source_address: str) -> dict[str, Any]:
    target = urlsplit(url)
    statuses: list[int] = []
    first_429: dict[str, Any] = {}
    started = time.monotonic()

    async def worker(first: int) -> None:
        reader, writer = await asyncio.open_connection(target.hostname, target.port, local_addr=(source_address, 0))
        for n in range(first, count, CONCURRENCY):
            await asyncio.sleep(max(0.0, started + n * seconds / count - time.monotonic()))  # paced
            status, headers, body = await _exchange(reader, writer, target.netloc)
            statuses.append(status)
            if status == 429 and not first_429:
                first_429.update(retry_after=headers.get("retry-after"), body=orjson.loads(body))
        writer.close()

    await asyncio.gather(*(worker(first) for first in range(CONCURRENCY)))
    return {"statuses": statuses, "seconds": time.monotonic() - started, "first_429": first_429}


if __name__ == "__main__":
    url, count, seconds, source = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    print(orjson.dumps(asyncio.run(flood(url, count, seconds, source))).decode())
