"""The request deadline: a request still unanswered after `seconds` is answered 503 with Retry-After.

Never a 2xx for events not known durable: the deadline runs until the response starts (a 2xx starts only
after Kafka acknowledged), then the answer is let through. A plain ASGI middleware: Starlette's
`BaseHTTPMiddleware` costs a task and a stream per request, which shows at ingest rates.
"""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.ingest.api.errors import error_body


class Deadline:
    def __init__(self, app: ASGIApp, *, seconds: float, retry_after: int) -> None:
        self.app = app
        self.seconds = seconds
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        try:
            async with asyncio.timeout(self.seconds) as deadline:

                async def send_until_started(message: Message) -> None:
                    nonlocal started
                    if message["type"] == "http.response.start":
                        deadline.reschedule(None)  # the answer is decided: let it finish
                        started = True
                    await send(message)

                await self.app(scope, receive, send_until_started)
        except TimeoutError:
            if started:
                raise
            await self._overrun()(scope, receive, send)

    def _overrun(self) -> JSONResponse:
        reason = f"no answer within {self.seconds:g} s; retry with the same event ids (stored once)"
        body = error_body(0, [{"index": None, "event_id": None, "field": "request", "reason": reason}])
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(self.retry_after)})
