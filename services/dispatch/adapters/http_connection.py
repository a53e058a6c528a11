"""One kept-alive HTTP/1.1 connection of the webhook sender: a POST written in one piece, the answer's status,
headers and at most a limit of its body read.

A small client of its own rather than a general one: the sender needs only this exchange, and at a few hundred
webhooks a second the general clients' per-request bookkeeping cost more CPU than the exchange itself. A
connection is reused only when the answer was read to its end within the limit (its length known, HTTP/1.1, no
`connection: close`); otherwise it is closed.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

from services.dispatch.domain.destinations import Address

IDLE_SECONDS = 30.0  # an idle connection older than this is closed rather than reused (servers drop them anyway)


class ExchangeFailed(Exception):
    """No usable answer; `stale` when a reused connection turned out closed before any byte of an answer came back
    (the request can go again on a fresh connection)."""

    def __init__(self, message: str, *, stale: bool = False) -> None:
        super().__init__(message)
        self.stale = stale


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    excerpt: bytes  # the body's start, at most the limit


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: Address) -> None:
        self._reader = reader
        self._writer = writer
        self.address = address
        self.exchanges = 0
        self.idle_since = time.monotonic()

    @classmethod
    async def open(
        cls, address: Address, port: int, tls: ssl.SSLContext | None, server_hostname: str, connect_seconds: float
    ) -> Connection:
        """Connects to the checked address; TLS verifies the certificate for the host's name (SNI too)."""
        try:
            async with asyncio.timeout(connect_seconds):
                reader, writer = await asyncio.open_connection(
                    str(address), port, ssl=tls, server_hostname=server_hostname if tls else None
                )
        except TimeoutError:
            raise ExchangeFailed(f"timeout: connecting to {server_hostname}:{port}") from None
        except (OSError, ssl.SSLError) as exc:
            raise ExchangeFailed(f"ConnectError: {exc}") from None
        return cls(reader, writer, address)

    def reusable(self) -> bool:
        """False once the server closed it (seen without a system call) or it sat idle too long."""
        fresh = time.monotonic() - self.idle_since < IDLE_SECONDS
        return fresh and not self._reader.at_eof() and not self._writer.is_closing()

    def close(self) -> None:
        self._writer.close()

    async def exchange(self, request: bytes, read_timeout: float, limit: int) -> tuple[Response, bool]:
        """Sends the request and reads the answer; returns it and whether the connection can carry another."""
        reused = self.exchanges > 0
        self.exchanges += 1
        try:
            self._writer.write(request)
            async with asyncio.timeout(read_timeout):
                await self._writer.drain()
            status, version, headers = await self._head(read_timeout)
        except asyncio.IncompleteReadError as exc:
            stale = reused and not exc.partial
            raise ExchangeFailed("ReadError: the connection closed before an answer", stale=stale) from None
        except TimeoutError:
            raise ExchangeFailed("timeout: sending the request") from None
        except ConnectionError as exc:
            raise ExchangeFailed(f"ReadError: {exc}", stale=reused) from None
        try:
            excerpt, complete = await self._body(status, headers, read_timeout, limit)
        except TimeoutError:
            raise ExchangeFailed("timeout: reading the answer's body") from None
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ExchangeFailed(f"ReadError: the answer's body was cut: {exc}") from None
        except (ValueError, asyncio.LimitOverrunError):
            raise ExchangeFailed("ProtocolError: a malformed chunked body") from None
        keep = complete and version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        self.idle_since = time.monotonic()
        return Response(status, headers, excerpt), keep

    async def _head(self, read_timeout: float) -> tuple[int, str, dict[str, str]]:
        while True:
            try:
                async with asyncio.timeout(read_timeout):
                    head = await self._reader.readuntil(b"\r\n\r\n")
            except TimeoutError:
                raise ExchangeFailed("timeout: reading the answer") from None
            except asyncio.LimitOverrunError:
                raise ExchangeFailed("ProtocolError: the answer's headers are too long") from None
            lines = head.decode("latin-1").split("\r\n")
            version, _, rest = lines[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/") or not code.isdigit():
                raise ExchangeFailed(f"ProtocolError: not an HTTP answer: {lines[0][:80]!r}")
            status = int(code)
            if 100 <= status < 200:
                continue  # informational (100 Continue): the answer follows
            headers = {}
            for line in lines[1:]:
                name, colon, value = line.partition(":")
                if colon:
                    headers[name.strip().lower()] = value.strip()
            return status, version, headers

    async def _body(self, status: int, headers: dict[str, str], seconds: float, limit: int) -> tuple[bytes, bool]:
        """The body's first `limit` bytes and whether it was read to its end."""
        async with asyncio.timeout(seconds):
            if status in (204, 304):
                return b"", True
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return await self._chunked(limit)
            length = headers.get("content-length", "")
            if length.isdigit():
                size = int(length)
                if size <= limit:
                    return await self._reader.readexactly(size), True
                return await self._reader.read(limit), False
            return await self._reader.read(limit), False  # until the server closes: never reused

    async def _chunked(self, limit: int) -> tuple[bytes, bool]:
        kept = b""
        while True:
            line = await self._reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while await self._reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return kept, True
            if len(kept) + size > limit:
                return kept + await self._reader.read(limit - len(kept)), False
            kept += await self._reader.readexactly(size)
            await self._reader.readexactly(2)
