"""Slow clients cut off: a connection must send a request's headers within `header_timeout_seconds`.

uvicorn (httptools) bounds only the idle time between requests (`timeout_keep_alive`), and any byte resets
it: a client that dribbles its request line and headers, or opens a connection and sends nothing, holds it
open for ever. `HeaderDeadlineProtocol` arms a timer whenever the connection waits for headers (opened, or
the first byte after an answer, or an answer sent before its request's body had fully arrived) and closes
the connection when it fires; a client that had begun a request gets a 408 first. The body's own deadline
is `client_guard.ClientGuard`'s.

Cut-offs are counted for every service in the process by `CutOffs` (process-wide: the protocol is built by
uvicorn, outside any app) and exposed by each app as
    stagetrack_slow_clients_cut_off_total{service="ingest",phase="headers"} 3.0
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 33\r\nconnection: close\r\n\r\nthe request headers came too late"
)


class CutOffs:
    """Connections and requests cut off for slowness, by phase ("headers", "body")."""

    counts: ClassVar[dict[str, int]] = {"headers": 0, "body": 0}

    @classmethod
    def add(cls, phase: str) -> None:
        cls.counts[phase] += 1


class CutOffCollector(Collector):
    def __init__(self, service: str) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "stagetrack_slow_clients_cut_off",
            "Connections closed because the request headers, or requests answered 408 because the body, came too late",
            labels=["service", "phase"],
        )
        for phase, count in CutOffs.counts.items():
            family.add_metric([self._service, phase], count)
        yield family


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on request headers (`header_timeout_seconds`)."""

    header_timeout_seconds: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._request_begun = False

    @classmethod
    def with_timeout(cls, seconds: float) -> type[HeaderDeadlineProtocol]:
        return type(cls.__name__, (cls,), {"header_timeout_seconds": seconds})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first byte after an answer: the next request's headers must follow in time
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._request_begun = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._request_begun = False
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and cycle.more_body and not self.transport.is_closing():
            self._arm()  # answered before its body arrived: the rest of it gets no more time than headers do

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_seconds, self._too_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._request_begun:
            self.transport.write(TIMEOUT_ANSWER)
        CutOffs.add("headers")
        log.debug("closed a connection that sent no complete request headers within %g s", self.header_timeout_seconds)
        self.transport.close()
