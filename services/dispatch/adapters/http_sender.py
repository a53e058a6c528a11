"""Posting one webhook with aiohttp: one client session, with its pool of kept-alive connections, for the
sender's lifetime.

- Every new connection goes to an address the destination rules accepted (`CheckedResolver`; a literal address
  in the URL is checked here). TLS verifies the certificate against the host's name with the system's trust
  store (`ssl.create_default_context()`: Debian's ca-certificates in the image; `SSL_CERT_FILE` names another
  bundle).
- aiohttp keeps connections per host (scheme, host, port): one checked for one host never carries another's; at
  most `connections_per_host` at once to a host, `connections` in all.
- Timeouts on connect and on each read, and a deadline for the whole post; no redirect is followed; no proxy
  (the environment's proxy settings are ignored), no cookies, no compressed answers; at most
  `max_response_bytes` of the answer are read (kept for the attempt's record), the rest is dropped with the
  connection.
- A POST is not retried by aiohttp. A kept-alive connection the receiver closed unseen fails before any answer
  (the server disconnected, or the connection was reset): the post goes again once, on another connection,
  without counting as an attempt. The webhook-id makes that safe (receivers dedupe), as any retry.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from services.dispatch.adapters.checked_resolver import CheckedResolver, DestinationRefused, refusal
from services.dispatch.domain.destinations import AllowList, literal_address
from services.dispatch.domain.subscriptions import Endpoint

_CLOSED_BEFORE_AN_ANSWER = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientConnectionResetError)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (refused destination, timeout, connection error)
    retry_after: str | None = None
    error: str | None = None  # one line, without the URL's path (it may be a secret)
    refused: bool = False  # the destination was refused: retrying cannot help
    excerpt: str = ""  # the start of the answer's body


@dataclass(frozen=True, slots=True)
class _Destination:
    url: str
    host: str
    port: int
    refused: str | None  # a literal address the rules refuse (aiohttp's resolver never sees those)
    secret_path: str  # left out of error messages


class WebhookSender:
    def __init__(
        self,
        allowed: AllowList,
        *,
        connect_timeout_seconds: float,
        read_timeout_seconds: float,
        max_response_bytes: int,
        connections_per_host: int = 32,
        connections: int = 256,
        user_agent: str = "stagetrack-dispatch",
    ) -> None:
        self._allowed = allowed
        self._deadline = connect_timeout_seconds + 2 * read_timeout_seconds
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect_timeout_seconds, sock_read=read_timeout_seconds
        )
        self._limit = max_response_bytes
        self._per_host = connections_per_host
        self._connections = connections
        self._headers = {"user-agent": user_agent, "content-type": "application/json"}
        self._destinations: dict[str, _Destination] = {}
        self._session: aiohttp.ClientSession | None = None

    async def post(self, endpoint: Endpoint, headers: Mapping[str, str], body: bytes) -> Answer:
        destination = self._destination(endpoint.url)
        if destination.refused is not None:
            return Answer(None, error=destination.refused, refused=True)
        try:
            async with asyncio.timeout(self._deadline):
                try:
                    return await self._exchange(destination.url, headers, body)
                except aiohttp.ClientConnectorError:
                    raise  # no connection was made: nothing to retry on another
                except _CLOSED_BEFORE_AN_ANSWER:
                    return await self._exchange(destination.url, headers, body)  # a stale kept-alive connection
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, DestinationRefused):
                return Answer(None, error=str(exc.os_error), refused=True)
            return Answer(None, error=f"cannot resolve {exc.host}: {_one_line(exc.os_error, destination)}")
        except aiohttp.ConnectionTimeoutError:
            return Answer(None, error=f"timeout: connecting to {destination.host}:{destination.port}")
        except aiohttp.SocketTimeoutError:
            return Answer(None, error="timeout: no answer read within the read timeout")
        except TimeoutError:
            return Answer(None, error=f"timeout: no answer within {self._deadline:g} s")
        except aiohttp.ClientConnectorError as exc:  # TLS refusals included
            return Answer(None, error=f"ConnectError: {_one_line(exc.os_error, destination)}")
        except _CLOSED_BEFORE_AN_ANSWER:
            return Answer(None, error="ReadError: the connection closed before an answer")
        except aiohttp.ClientPayloadError as exc:
            return Answer(None, error=f"ReadError: the answer's body was cut: {_one_line(exc, destination)}")
        except (aiohttp.ClientError, ValueError) as exc:  # a malformed answer; a header aiohttp will not send
            return Answer(None, error=f"ProtocolError: {_one_line(exc, destination)}")

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _exchange(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        session = self._session or self._open()
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            excerpt = b""
            while len(excerpt) < self._limit:
                chunk = await response.content.read(self._limit - len(excerpt))
                if not chunk:
                    break
                excerpt += chunk
            if not response.content.at_eof():
                response.close()  # a longer answer is not read to its end: its connection is closed
        text = " ".join(excerpt.decode(errors="replace").split())[:500]
        return Answer(response.status, retry_after=response.headers.get("retry-after"), excerpt=text)

    def _open(self) -> aiohttp.ClientSession:
        tls = ssl.create_default_context()  # verifies the certificate and that it names the host
        tls.set_alpn_protocols(["http/1.1"])
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(self._allowed),
            ssl=tls,
            limit=self._connections,
            limit_per_host=self._per_host,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers=self._headers,
            skip_auto_headers=("accept-encoding",),
            auto_decompress=False,
            read_bufsize=max(self._limit, 1024),  # what is buffered of an answer's body before reading pauses
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        return self._session

    def _destination(self, url: str) -> _Destination:
        """The parsed URL and, for a literal address, the rules' verdict; once per endpoint URL."""
        destination = self._destinations.get(url)
        if destination is None:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
            refused = refusal(host, host, self._allowed) if literal_address(host) is not None else None
            destination = _Destination(url, host, port, refused, parts.path if parts.path != "/" else "")
            self._destinations[url] = destination
        return destination


def _one_line(exc: BaseException, destination: _Destination) -> str:
    text = " ".join(str(exc).split())
    if destination.secret_path:
        text = text.replace(destination.secret_path, "/…")
    return text[:500]
