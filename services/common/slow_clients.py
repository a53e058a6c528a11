"""Slow clients cut off: a request's headers must arrive within `header_timeout_seconds`, its body within
`body_timeout_seconds` of the headers.

uvicorn (httptools) bounds only the idle time between requests (`timeout_keep_alive`), and any byte resets
it: a client that dribbles its request line and headers, or its body, or opens a connection and sends
nothing, holds it open for ever. `DeadlineProtocol` is uvicorn's httptools protocol with two timers:
- headers: armed whenever the connection waits for headers (opened, the first byte after an answer, or an
  answer sent before its request's body had fully arrived); when it fires the connection is closed, after a
  408 if the client had begun a request.
- body: armed only when a body did not come with its headers (the common request costs no timer). When it
  fires, the request is marked late (`BODY_LATE` in its ASGI scope) and woken; `client_guard.ClientGuard`
  answers 408 in the service's own error shape with `Connection: close`. Should nothing answer within the
  header timeout, the connection is closed anyway.

Cut-offs are counted for every service in the process by `CutOffs` (process-wide: the protocol is built by
uvicorn, outside any app) and exposed by each app as
    stagetrack_slow_clients_cut_off_total{service="ingest",phase="headers"} 3.0
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar, cast

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

BODY_LATE = "stagetrack.body_late"  # scope key: the body deadline (seconds) passed before the body arrived
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


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines on request headers and bodies."""

    header_timeout_seconds: ClassVar[float] = 10.0
    body_timeout_seconds: ClassVar[float] = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_deadline = 0.0
        self._request_begun = False

    @classmethod
    def with_timeouts(cls, header_seconds: float, body_seconds: float) -> type[DeadlineProtocol]:
        timeouts = {"header_timeout_seconds": header_seconds, "body_timeout_seconds": body_seconds}
        return type(cls.__name__, (cls,), timeouts)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        self._stop_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if self.transport.is_closing():
            return
        if cycle is None or cycle.response_complete:  # still no complete headers after these bytes
            if self._header_timer is None:
                self._arm_headers()
        elif cycle.more_body and self._body_timer is None:  # a body that did not come with its headers
            self._body_timer = self.loop.call_at(self._body_deadline, self._body_too_late)

    def on_message_begin(self) -> None:
        self._request_begun = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._request_begun = False
        self._stop_header_timer()
        self._body_deadline = self.loop.time() + self.body_timeout_seconds
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stop_body_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and cycle.more_body and not self.transport.is_closing():
            self._stop_body_timer()
            self._arm_headers()  # answered before its body arrived: the rest gets no more time than headers do

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _stop_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _arm_headers(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_seconds, self._headers_too_late)

    def _headers_too_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._request_begun:
            self.transport.write(TIMEOUT_ANSWER)
        CutOffs.add("headers")
        self.transport.close()

    def _body_too_late(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.response_complete or self.transport.is_closing():
            return
        CutOffs.add("body")
        if cycle.response_started:
            self.transport.close()
            return
        cast(dict[str, Any], cycle.scope)[BODY_LATE] = self.body_timeout_seconds
        cycle.message_event.set()  # wakes the app's receive, where the guard sees the mark
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_seconds, self._abandon)

    def _abandon(self) -> None:
        """Nothing answered the late request (an app without the guard): the connection goes."""
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
