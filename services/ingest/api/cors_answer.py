"""The CORS headers of an answer to a browser whose origin its key allows (`cors.admit_origin` noted it)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

ALLOWED_ORIGIN = "stagetrack.allowed_origin"  # the scope key under which a request's allowed origin is kept


def cors_headers(scope: Scope, headers: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """`headers` plus the CORS headers when the request's origin was admitted (None when there is nothing):
    the origin echoed, `Vary: Origin`, Retry-After readable by the page; never credentials."""
    origin = scope.get(ALLOWED_ORIGIN)
    if origin is None:
        return dict(headers) if headers else None
    return {
        **(headers or {}),
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }
