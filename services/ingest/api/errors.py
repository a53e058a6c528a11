"""The error shape of every 4xx/5xx of the ingest: which event (index in the batch), which field, why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from services.ingest.api.cors_answer import cors_headers


class RequestRefused(Exception):
    """A whole request is refused (bad body, auth, limits, broker down); `field` names what was wrong."""

    def __init__(
        self, status: int, field: str, reason: str, *, index: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.field = field
        self.reason = reason
        self.index = index
        self.headers = headers or {}


def error_body(accepted: int, errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"accepted": accepted, "rejected": len({e["index"] for e in errors}), "errors": list(errors)}


async def refused_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRefused)
    error = {"index": exc.index, "event_id": None, "field": exc.field, "reason": exc.reason}
    headers = cors_headers(request.scope, exc.headers)  # a page at an allowed origin may read why
    return JSONResponse(error_body(0, [error]), status_code=exc.status, headers=headers)
