"""Posting one webhook: resolve, check, connect to the address checked, read a little of the answer.

- The host is resolved here and every address it resolves to is checked (`destinations.address_problem`);
  the request then goes to that address (the Host header and TLS's server name stay the host's, so the
  certificate is still verified for the host): a DNS answer that changes between check and connect (DNS
  rebinding) cannot steer the post into the private network.
- One connection pool per endpoint (a pooled connection checked for one host never carries another's).
- Timeouts on connect and on each read, and a deadline for the whole exchange; no redirect is followed; no
  proxy from the environment; at most `max_response_bytes` of the answer are read (kept for the attempt's
  record), the rest is dropped with the connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.dispatch.domain.destinations import Address, AllowList, address_problem, literal_address
from services.dispatch.domain.subscriptions import Endpoint


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
        connections_per_endpoint: int = 32,
        user_agent: str = "stagetrack-dispatch",
    ) -> None:
        self._connections = connections_per_endpoint
        self._allowed = allowed
        self._timeout = httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds)
        self._deadline = connect_timeout_seconds + 2 * read_timeout_seconds
        self._limit = max_response_bytes
        self._user_agent = user_agent
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def post(self, endpoint: Endpoint, headers: Mapping[str, str], body: bytes) -> Answer:
        parts = urlsplit(endpoint.url)
        host, path = parts.hostname or "", parts.path
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = await self._checked_address(host, port)
        except DestinationRefused as exc:
            return Answer(None, error=str(exc), refused=True)
        except (OSError, UnicodeError) as exc:
            return Answer(None, error=f"cannot resolve {host}: {_one_line(exc, path)}")
        target = _address_url(endpoint.url, address)
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        request_headers = {
            **headers,
            "host": parts.netloc.rpartition("@")[2],
            "content-type": "application/json",
            "user-agent": self._user_agent,
        }
        client = self._client(endpoint.name)
        try:
            async with asyncio.timeout(self._deadline):
                request = client.build_request("POST", target, headers=request_headers, content=body)
                request.extensions.update(extensions)
                response = await client.send(request, stream=True)
                try:
                    excerpt = await self._excerpt(response)
                finally:
                    await response.aclose()
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            kind = "timeout" if isinstance(exc, TimeoutError | httpx.TimeoutException) else type(exc).__name__
            return Answer(None, error=f"{kind}: {_one_line(exc, path)}".rstrip(": "))
        return Answer(response.status_code, retry_after=response.headers.get("retry-after"), excerpt=excerpt)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, endpoint: str) -> httpx.AsyncClient:
        client = self._clients.get(endpoint)
        if client is None:
            limits = httpx.Limits(max_connections=self._connections, max_keepalive_connections=self._connections)
            client = httpx.AsyncClient(timeout=self._timeout, limits=limits, trust_env=False, follow_redirects=False)
            self._clients[endpoint] = client
        return client

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

    async def _excerpt(self, response: httpx.Response) -> str:
        kept = b""
        async for chunk in response.aiter_raw():
            kept += chunk[: self._limit - len(kept)]
            if len(kept) >= self._limit:
                break
        return " ".join(kept.decode(errors="replace").split())[:500]


def _address_url(url: str, address: Address) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _one_line(exc: BaseException, secret_path: str) -> str:
    text = " ".join(str(exc).split())
    if secret_path and secret_path != "/":
        text = text.replace(secret_path, "/…")
    return text[:500]
