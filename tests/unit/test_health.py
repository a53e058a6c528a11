"""/readyz answers 503 naming the failing dependency; /healthz only needs the process."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.http import health_router


def _app(checks: dict) -> FastAPI:  # type: ignore[type-arg]
    app = FastAPI()
    app.include_router(health_router(lambda: checks, CollectorRegistry(), timeout_seconds=0.2))
    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path)


async def test_ready_only_when_every_check_passes() -> None:
    async def ok() -> None:
        return None

    async def broken() -> None:
        raise ConnectionRefusedError("connection refused")

    async def hangs() -> None:
        await asyncio.sleep(10)

    assert (await _get(_app({"kafka": ok, "postgres": ok}), "/readyz")).status_code == 200
    response = await _get(_app({"kafka": broken, "postgres": hangs}), "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "kafka": "ConnectionRefusedError: connection refused",
        "postgres": "no answer within 0.2 s",
    }
    assert (await _get(_app({"kafka": broken}), "/healthz")).status_code == 200


async def test_a_check_whose_clean_up_hangs_after_cancel_does_not_hang_the_probe() -> None:
    released = asyncio.Event()

    async def close_never_returns() -> None:
        try:
            await asyncio.sleep(10)
        finally:  # like a Kafka admin client's close() waiting on a broker that is gone
            await released.wait()

    response = await asyncio.wait_for(_get(_app({"kafka": close_never_returns}), "/readyz"), timeout=5)
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": "no answer within 0.2 s"}
    released.set()
