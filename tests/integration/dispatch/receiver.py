"""A webhook receiver for the tests: a small ASGI app served by uvicorn on a free port, that verifies every
request's Standard Webhooks signature with the `standardwebhooks` package (the spec's reference library, not
stagetrack's code) and records what it got. `answers` scripts the status codes it answers, in order (then 200);
`delay_seconds` makes it slow (so a test can kill the dispatcher mid-delivery)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.types import Receive, Scope, Send

from tests.stack import free_port


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    answered: int
    at: float = field(default_factory=time.monotonic)  # when it was answered


@dataclass
class Receiver:
    secret: str
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    answers: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    got: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # signatures that did not verify (must stay empty)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.got if 200 <= r.answered < 300]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender went away mid-request (a killed dispatcher): nothing was delivered
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            self.refused.append(f"{exc}: {headers}")
            await _answer(send, 400)
            return
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        status = self.answers.pop(0) if self.answers else 200
        self.got.append(Received(headers["webhook-id"], headers, json.loads(body), body, status))
        await _answer(send, status)


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"no"})


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Serves the receiver on its port until the block ends."""
    config = uvicorn.Config(receiver, host=receiver.host, port=receiver.port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield receiver
    finally:
        server.should_exit = True
        await task
