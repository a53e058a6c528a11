"""The endpoints every service has: /healthz, /readyz, /metrics.

A service whose metrics are computed at scrape time (the KPI service reads its projections) sets
`app.state.before_scrape` to an async callable in its lifespan; /metrics awaits it before it renders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(
    checks: Callable[[], Mapping[str, ReadinessCheck]], registry: CollectorRegistry, timeout_seconds: float
) -> APIRouter:
    """`checks` is called per request so the router can be built before the app's resources exist."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="200 only when every dependency (Kafka, PostgreSQL) answers")
    async def readyz() -> JSONResponse:
        named = checks()
        results = await asyncio.gather(*(_run(check, timeout_seconds) for check in named.values()))
        report = dict(zip(named.keys(), results, strict=True))
        ready = all(r == "ok" for r in results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report}, status_code=200 if ready else 503
        )

    @router.get("/metrics", summary="Prometheus exposition", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        before_scrape: Callable[[], Awaitable[None]] | None = getattr(request.app.state, "before_scrape", None)
        if before_scrape is not None:
            await before_scrape()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run(check: ReadinessCheck, timeout_seconds: float) -> str:
    """The check's answer within the timeout. A late check is cancelled but not awaited: a client library whose
    clean-up hangs after cancellation (wait_for would wait for it) must not hang the probe."""
    task = asyncio.ensure_future(check())
    done, _ = await asyncio.wait({task}, timeout=timeout_seconds)
    if not done:
        task.cancel()
        task.add_done_callback(_discard_outcome)
        return f"no answer within {timeout_seconds:g} s"
    exc = task.exception()
    if exc is not None:  # a readiness probe reports any failure instead of raising
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


def _discard_outcome(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"
