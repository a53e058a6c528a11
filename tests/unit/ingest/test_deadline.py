"""The request deadline: 503 with Retry-After while no answer has started; a started answer is let through."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from services.ingest.api.deadline import Deadline


def _app(pause_before_start: float, pause_before_body: float = 0.0) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(pause_before_start)
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(pause_before_body)
        await send({"type": "http.response.body", "body": b"durable"})

    return app


async def _post(app: Deadline) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post("/v1/events", content=b"{}")


async def test_no_answer_within_the_deadline_is_a_503_with_retry_after() -> None:
    response = await _post(Deadline(_app(pause_before_start=5), seconds=0.05, retry_after=7))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    [error] = response.json()["errors"]
    assert error["field"] == "request" and error["reason"].startswith("no answer within 0.05 s")


async def test_an_answer_that_started_in_time_is_finished() -> None:
    response = await _post(Deadline(_app(pause_before_start=0, pause_before_body=0.2), seconds=0.05, retry_after=7))
    assert (response.status_code, response.text) == (202, "durable")


async def test_a_fast_answer_is_untouched() -> None:
    response = await _post(Deadline(_app(pause_before_start=0), seconds=5, retry_after=7))
    assert (response.status_code, response.text) == (202, "durable")
