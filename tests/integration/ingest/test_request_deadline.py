"""The ingest as wired by its bootstrap answers a request that overruns `request_timeout_seconds` with 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from services.common.keys import KeyStore
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings


async def _stalling_body() -> AsyncIterator[bytes]:
    yield b'{"events": ['
    await asyncio.sleep(5)  # the client stalls mid-body; the deadline cuts in first
    yield b"]}"


async def test_a_request_overrunning_the_deadline_is_answered_503_with_retry_after(
    ingest_settings: IngestSettings, key_store: KeyStore
) -> None:
    settings = ingest_settings.model_copy(update={"request_timeout_seconds": 0.5, "retry_after_seconds": 3})
    key = await key_store.create("slow")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            response = await client.post(
                "/v1/events", content=_stalling_body(), headers={"Authorization": f"Bearer {key}"}
            )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json() == {
        "accepted": 0,
        "rejected": 1,
        "errors": [
            {
                "index": None,
                "event_id": None,
                "field": "request",
                "reason": "no answer within 0.5 s; retry with the same event ids (stored once)",
            }
        ],
    }
