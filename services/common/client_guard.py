"""The middleware every service puts in front of its routes: clients that keep failing authentication are
refused 429 before their requests reach the service, and a request whose body the server marked late
(`slow_clients.DeadlineProtocol`) is answered 408 in the service's error shape and its connection closed.

A 401 or 403 answer counts as a failure for the client's address; a 401 also for the presented key (a 403 is
given to a known key used out of its scope, and must not let a stranger lock out a public tracker key). The
rules are `auth_limits.AuthLimiter`'s. Metrics (labels bounded, never an address or a key):
    stagetrack_auth_failures_total{service="ingest"} 37.0
    stagetrack_auth_throttled_total{service="ingest",by="address"} 950.0
A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` costs a task and a stream per request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth_limits import AuthLimiter, key_digest, key_prefix, presented_key
from services.common.auth_report import AuthReport
from services.common.slow_clients import BODY_LATE

Refusal = Callable[[str, str], dict[str, Any]]  # (field, reason) -> the service's JSON error body


def detail_refusal(field: str, reason: str) -> dict[str, Any]:
    """The error body of the engine and the KPI service."""
    return {"detail": {"field": field, "reason": reason}}


class _BodyTooSlow(Exception):
    """Raised into the app from `receive` when the server marked the request's body late."""


class ClientGuard:
    def __init__(
        self,
        *,
        service: str,
        limiter: AuthLimiter,
        refusal: Refusal,
        registry: CollectorRegistry,
        report: AuthReport,
    ) -> None:
        self._service = service
        self._limiter = limiter
        self._refusal = refusal
        self._report = report
        self._failures = Counter(
            "stagetrack_auth_failures", "Answers 401/403 (failed authentications)", ["service"], registry=registry
        ).labels(service)
        throttled = Counter(
            "stagetrack_auth_throttled",
            "Requests refused 429 after too many failed authentications, by what was blocked (address, key)",
            ["service", "by"],
            registry=registry,
        )
        self._throttled = {by: throttled.labels(service, by) for by in ("address", "key")}

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            client = scope.get("client")
            address = client[0] if client else "unknown"
            if not self._limiter.idle and await self._refused(scope, receive, send, address):
                return
            await self._answer(app, scope, receive, send, address)

        return guarded

    async def _refused(self, scope: Scope, receive: Receive, send: Send, address: str) -> bool:
        key = presented_key(scope["headers"]) if len(self._limiter.keys) else None
        block = self._limiter.block(address, key_digest(key) if key else None)
        if block is None:
            return False
        self._throttled[block.by].inc()
        self._report.throttled()
        wait = math.ceil(block.retry_after_seconds)
        whose = "from this address" if block.by == "address" else "with this API key"
        reason = f"too many failed authentications {whose}; retry after {wait} s"
        refusal = JSONResponse(self._refusal("authorization", reason), 429, headers={"Retry-After": str(wait)})
        await refusal(scope, receive, send)
        return True

    async def _answer(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, address: str) -> None:
        status = 0
        late = False

        async def receive_unless_late() -> Message:
            nonlocal late
            message = await receive()
            if BODY_LATE in scope:  # the server's body deadline passed (slow_clients.DeadlineProtocol)
                late = True
                raise _BodyTooSlow
            return message

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if late and not status:
                return  # the app's own answer to the missing body (a 400, a 500) gives way to the 408
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive_unless_late, send_noting_status)
        except _BodyTooSlow:
            if status:
                raise
        if late and not status:
            await self._too_slow(scope, receive, send, scope[BODY_LATE])
        elif status in (401, 403):
            self._failed(scope, address, status)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        reason = f"the request body did not arrive within {seconds:g} s"
        answer = JSONResponse(self._refusal("body", reason), 408, headers={"Connection": "close"})
        await answer(scope, receive, send)

    def _failed(self, scope: Scope, address: str, status: int) -> None:
        self._failures.inc()
        key = presented_key(scope["headers"]) if status == 401 else None
        blocked = self._limiter.failed(address, key_digest(key) if key else None)
        self._report.failed(address, key_prefix(key) if key else None, blocked)
