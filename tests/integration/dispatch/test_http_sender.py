"""The webhook sender (aiohttp) against a raw server on a local port: connections are kept alive and reused, an
answer's Retry-After and the start of its body come back, a body past the limit is cut and its connection
dropped, a kept-alive connection the server closed is replaced without failing the post, a redirect is not
followed, a receiver that never answers is a timeout, and a literal address the rules refuse is not posted to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from services.dispatch.adapters.http_sender import WebhookSender
from services.dispatch.domain.destinations import AllowList
from services.dispatch.domain.signing import Secret
from services.dispatch.domain.subscriptions import Endpoint
from tests.integration.dispatch.receiver import new_secret

# (the n-th request on its connection, the n-th of all; from 0) -> the raw answer (b"" closes the connection)
Answerer = Callable[[int, int], bytes]


class RawServer:
    def __init__(self, answer: Answerer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []  # as received, header names lower-cased

    def header(self, n: int, name: str) -> str | None:
        head = self.requests[n].partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        values = [line.partition(":")[2].strip() for line in head[1:] if line.partition(":")[0] == name]
        return values[0] if len(values) == 1 else None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for n in range(1000):
                start, *fields = (await reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
                head = b"\r\n".join([start, *(f.partition(b":")[0].lower() + f[f.index(b":") :] for f in fields)])
                head += b"\r\n\r\n"
                length = int(next(line for line in head.split(b"\r\n") if line.startswith(b"content-length:"))[15:])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answer(n, len(self.requests) - 1)
                if not answer:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(answer: Answerer) -> AsyncIterator[tuple[RawServer, Endpoint]]:
    raw = RawServer(answer)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    endpoint = Endpoint("crm", f"http://127.0.0.1:{port}/hook?x=1", "standard-webhooks", Secret.parse(new_secret()))
    try:
        yield raw, endpoint
    finally:
        server.close()


def sender(read_timeout: float = 2.0, allowed: str = "127.0.0.1") -> WebhookSender:
    allow = AllowList.parse(allowed)
    return WebhookSender(allow, connect_timeout_seconds=2, read_timeout_seconds=read_timeout, max_response_bytes=64)


def ok(*_: int) -> bytes:
    return b"HTTP/1.1 204 No Content\r\n\r\n"


async def test_posts_share_one_kept_alive_connection_with_the_request_as_sent() -> None:
    async with serving(ok) as (raw, endpoint):
        client = sender()
        answers = [await client.post(endpoint, {"webhook-id": f"msg_{i}"}, b'{"n": 1}') for i in range(5)]
        await asyncio.gather(*(client.post(endpoint, {"webhook-id": "msg_c"}, b"{}") for _ in range(3)))
        await client.close()
    assert [a.status for a in answers] == [204] * 5
    assert raw.connections <= 3 and len(raw.requests) == 8
    first = raw.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n") and first.endswith(b'\r\n\r\n{"n": 1}'), first
    assert raw.header(0, "webhook-id") == "msg_0" and raw.header(0, "content-type") == "application/json", first
    assert raw.header(0, "host") == f"127.0.0.1:{endpoint.url.split(':')[2].split('/')[0]}", first
    assert raw.header(0, "user-agent") == "stagetrack-dispatch" and raw.header(0, "content-length") == "8", first
    assert raw.header(0, "accept-encoding") is None and raw.header(0, "cookie") is None, first


async def test_retry_after_and_a_chunked_body_come_back_and_the_connection_stays() -> None:
    head = b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\ntransfer-encoding: chunked\r\n\r\n"
    chunked = head + b"5\r\nslow \r\n4\r\ndown\r\n0\r\n\r\n"
    async with serving(lambda _, total: chunked if total == 0 else ok()) as (raw, endpoint):
        client = sender()
        first = await client.post(endpoint, {}, b"{}")
        second = await client.post(endpoint, {}, b"{}")
        await client.close()
    assert (first.status, first.retry_after, first.excerpt) == (429, "7", "slow down")
    assert second.status == 204 and raw.connections == 1


async def test_a_body_past_the_limit_is_cut_and_its_connection_dropped() -> None:
    size = 4 << 20  # more than the client buffers before it has read the limit
    big = b"HTTP/1.1 500 Oops\r\ncontent-length: %d\r\n\r\n" % size + b"x" * size
    async with serving(lambda _, total: big if total == 0 else ok()) as (raw, endpoint):
        client = sender()
        first = await client.post(endpoint, {}, b"{}")
        second = await client.post(endpoint, {}, b"{}")
        await client.close()
    assert first.status == 500 and first.excerpt == "x" * 64
    assert second.status == 204 and raw.connections == 2


async def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    # The server answers once per connection, then closes it on the next request without answering (as a server
    # does whose idle timeout fired as the request arrived): the post goes again on a new connection.
    async with serving(lambda n, _: ok() if n == 0 else b"") as (raw, endpoint):
        client = sender()
        answers = [await client.post(endpoint, {}, b"{}") for _ in range(3)]
        await client.close()
    assert [(a.status, a.error) for a in answers] == [(204, None)] * 3, answers
    assert raw.connections == 3 and len(raw.requests) == 5


async def test_a_server_that_closes_every_connection_unanswered_fails_the_attempt() -> None:
    async with serving(lambda *_: b"") as (raw, endpoint):
        client = sender()
        answer = await client.post(endpoint, {}, b"{}")
        await client.close()
    assert answer.status is None and answer.error is not None and answer.error.startswith("ReadError"), answer
    assert not answer.refused and len(raw.requests) <= 2


async def test_a_redirect_is_answered_not_followed() -> None:
    moved = b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://169.254.169.254/latest\r\ncontent-length: 0\r\n\r\n"
    async with serving(lambda *_: moved) as (raw, endpoint):
        client = sender()
        answer = await client.post(endpoint, {}, b"{}")
        await client.close()
    assert answer.status == 307 and len(raw.requests) == 1, answer


async def test_a_literal_address_the_rules_refuse_is_not_posted_to() -> None:
    async with serving(ok) as (raw, endpoint):
        client = sender(allowed="10.0.0.0/8")  # not 127.0.0.1
        answer = await client.post(endpoint, {}, b"{}")
        await client.close()
    assert answer.refused and answer.status is None and raw.connections == 0, answer
    assert answer.error is not None and "127.0.0.1 is a loopback address" in answer.error, answer
    assert "hook" not in answer.error and "x=1" not in answer.error, answer


async def test_a_receiver_that_never_answers_is_a_timeout() -> None:
    async with serving(lambda *_: b"HTTP/1.1 200 OK\r\n") as (_, endpoint):
        client = sender(read_timeout=0.3)
        answer = await client.post(endpoint, {}, b"{}")
        await client.close()
    assert answer.status is None and answer.error is not None and answer.error.startswith("timeout"), answer
    assert not answer.refused, answer
