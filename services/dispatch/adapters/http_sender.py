"""Posting one webhook: a kept-alive connection to the endpoint's host, or a new one to an address checked.

- A new connection resolves the host and checks every address it resolves to (`destinations.address_problem`),
  then connects to the address checked (TLS's server name and the Host header stay the host's, so the
  certificate is still verified for the host): a DNS answer that changes between check and connect (DNS
  rebinding) cannot steer the post into the private network. A kept-alive connection was made that way.
- One pool of kept-alive connections per host (scheme, host, port): a connection checked for one host never
  carries another's; at most `connections_per_host` idle ones are kept.
- Timeouts on connect and on each read, and a deadline for the whole exchange; no redirect is followed; no
  proxy; at most `max_response_bytes` of the answer are read (kept for the attempt's record), the rest is
  dropped with the connection.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

from services.dispatch.adapters.http_connection import Connection, ExchangeFailed, Response
from services.dispatch.domain.destinations import Address, AllowList, address_problem, literal_address
from services.dispatch.domain.subscriptions import Endpoint

Host = tuple[str, str, int]  # scheme, host, port


class DestinationRefused(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (refused destination, timeout, connection error)
    retry_after: str | None = None
    error: str | None = None  # one line, without the URL's path (it may be a secret)
    refused: bool = False  # the destination was refused: retrying cannot help
    excerpt: str = ""  # the start of the answer's body


class WebhookSender:
    def __init__(
        self,
        allowed: AllowList,
        *,
        connect_timeout_seconds: float,
        read_timeout_seconds: float,
        max_response_bytes: int,
        connections_per_host: int = 32,
        user_agent: str = "stagetrack-dispatch",
    ) -> None:
        self._allowed = allowed
        self._connect_timeout = connect_timeout_seconds
        self._read_timeout = read_timeout_seconds
        self._deadline = connect_timeout_seconds + 2 * read_timeout_seconds
        self._limit = max_response_bytes
        self._keep = connections_per_host
        self._user_agent = user_agent
        self._idle: dict[Host, deque[Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, endpoint: Endpoint, headers: Mapping[str, str], body: bytes) -> Answer:
        parts = urlsplit(endpoint.url)
        host = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        request = self._request(parts, headers, body)
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._exchange(host, request)
        except DestinationRefused as exc:
            return Answer(None, error=str(exc), refused=True)
        except (OSError, UnicodeError) as exc:
            return Answer(None, error=f"cannot resolve {host[1]}: {_one_line(exc, parts.path)}")
        except ExchangeFailed as exc:
            return Answer(None, error=_one_line(exc, parts.path))
        except TimeoutError:
            return Answer(None, error=f"timeout: no answer within {self._deadline:g} s")
        excerpt = " ".join(response.excerpt.decode(errors="replace").split())[:500]
        return Answer(response.status, retry_after=response.headers.get("retry-after"), excerpt=excerpt)

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    async def _exchange(self, host: Host, request: bytes) -> Response:
        """One exchange; a kept-alive connection the server had closed unseen is replaced once by a new one."""
        connection = self._take(host)
        while True:
            if connection is None:
                connection = await self._connect(host)
            try:
                response, keep = await connection.exchange(request, self._read_timeout, self._limit)
            except ExchangeFailed as exc:
                connection.close()
                if exc.stale:
                    connection = None
                    continue
                raise
            except BaseException:  # cancelled or the deadline: the exchange is in an unknown state
                connection.close()
                raise
            self._give_back(host, connection, keep)
            return response

    def _take(self, host: Host) -> Connection | None:
        idle = self._idle.get(host)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to have been closed
            if connection.reusable():
                return connection
            connection.close()
        return None

    def _give_back(self, host: Host, connection: Connection, keep: bool) -> None:
        idle = self._idle.setdefault(host, deque())
        if keep and len(idle) < self._keep:
            idle.append(connection)
        else:
            connection.close()

    async def _connect(self, host: Host) -> Connection:
        scheme, name, port = host
        address = await self._checked_address(name, port)
        tls = self._tls_context() if scheme == "https" else None
        return await Connection.open(address, port, tls, name, self._connect_timeout)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()  # verifies the certificate and that it names the host
        return self._tls

    async def _checked_address(self, host: str, port: int) -> Address:
        """The address to connect to; DestinationRefused naming the refusal when any address of the host is refused."""
        literal = literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = [a for a in (literal_address(str(info[4][0])) for info in infos) if a is not None]
            if not addresses:
                raise OSError(f"{host} resolved to no address")
        for address in addresses:
            problem = address_problem(address, host, self._allowed)
            if problem is not None:
                raise DestinationRefused(f"destination refused: {problem}")
        return addresses[0]

    def _request(self, parts: SplitResult, headers: Mapping[str, str], body: bytes) -> bytes:
        # Characters a request line or header cannot carry are percent-encoded (the URL comes from a file).
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="/?&=%:@!$'()*+,;~-._")
        lines = [
            f"POST {target} HTTP/1.1",
            f"host: {parts.netloc.rpartition('@')[2]}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            f"user-agent: {self._user_agent}",
            *(f"{name}: {value}" for name, value in headers.items() if not _unsafe(name + value)),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _unsafe(text: str) -> bool:
    return any(c in text for c in "\r\n\0")


def _one_line(exc: BaseException, secret_path: str) -> str:
    text = " ".join(str(exc).split())
    if secret_path and secret_path != "/":
        text = text.replace(secret_path, "/…")
    return text[:500]
