"""Reads need a key (docs/security.md "Reads"): `reader(scope)` is the dependency a service's read routes share
(Bearer key, declared in the OpenAPI document); a refused key is answered in the service's error shape; and the
operational paths (/healthz, /readyz, /metrics, /docs, /openapi.json) a deployment closes with
`STAGETRACK_OPEN_PATHS` need a key too.

A closed /healthz, /readyz or /metrics needs a key with the `read:kpi` scope, the scope of whoever watches the
system (Prometheus, dashboards); a closed /docs or /openapi.json holds no data and needs any live key. Keys are
checked in the key store the service keeps in `app.state.keys` (built in its lifespan).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.api_keys import ApiKey
from services.common.auth import AuthRefused, authenticate, authorize, require
from services.common.client_guard import Refusal
from services.common.settings import OPERATIONAL_PATHS

MONITORING_SCOPE = "read:kpi"
# The paths each setting entry stands for: FastAPI serves the same document's two viewers.
_SERVED_AS = {"/docs": ("/docs", "/docs/oauth2-redirect", "/redoc")}
_NEEDS = {"/healthz": MONITORING_SCOPE, "/readyz": MONITORING_SCOPE, "/metrics": MONITORING_SCOPE}
# Declares the scheme in the OpenAPI document; the key itself is read by `authorize` (Bearer or Basic user).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key: `Authorization: Bearer KEY`, made with `stagetrack keys create --scope SCOPE`",
)
ERROR_CONTENT = {  # the services' {"detail": {"field", "reason"}} answers, for OpenAPI documents
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {
                "detail": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                }
            },
        }
    }
}
ReadDependency = Callable[[Request, Any], Awaitable[ApiKey]]


def reader(scope: str) -> ReadDependency:
    """The dependency of a service's read routes: the request's live key holding `scope`, else AuthRefused
    (401 no or unknown key, 403 naming the scope and the route, 503 when the key store is out of reach)."""

    async def read_key(
        request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
    ) -> ApiKey:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        return await authorize(request, request.app.state.keys, scope, f"read {route}")

    return read_key


def refusals(scope: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a route behind `reader(scope)`."""
    return {
        401: {"description": "No API key, or an unknown or revoked one", "content": ERROR_CONTENT},
        403: {"description": f"The key does not hold the `{scope}` scope", "content": ERROR_CONTENT},
        503: {
            "description": "The key store (PostgreSQL) is out of reach; retry after Retry-After",
            "content": ERROR_CONTENT,
        },
    }


def refused_response(refusal: Refusal, refused: AuthRefused) -> JSONResponse:
    """401 (with the Bearer challenge), 403 or 503 (with Retry-After) in the service's error shape."""
    headers = dict(refused.headers)
    if refused.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(refusal(refused.field, refused.reason), refused.status, headers=headers)


def closed_paths(open_paths: frozenset[str]) -> dict[str, str | None]:
    """Each path not open, with the scope it needs (None: any live key)."""
    closed: dict[str, str | None] = {}
    for entry in OPERATIONAL_PATHS:
        if entry not in open_paths:
            closed.update(dict.fromkeys(_SERVED_AS.get(entry, (entry,)), _NEEDS.get(entry)))
    return closed


class ClosedPaths:
    """ASGI middleware: requests to a closed path pass only with a key that may read it."""

    def __init__(self, closed: Mapping[str, str | None], refusal: Refusal) -> None:
        self._closed = dict(closed)
        self._refusal = refusal

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] in self._closed:
                try:
                    await self._check(Request(scope), self._closed[scope["path"]])
                except AuthRefused as refused:
                    await refused_response(self._refusal, refused)(scope, receive, send)
                    return
            await app(scope, receive, send)

        return guarded

    async def _check(self, request: Request, scope: str | None) -> None:
        store = getattr(request.app.state, "keys", None)
        if store is None:  # before the lifespan built it, or a service that keeps none
            reason = f"{request.url.path} is closed (STAGETRACK_OPEN_PATHS) and no key store is available"
            raise AuthRefused(503, "authorization", reason, headers={"Retry-After": "5"})
        key = await authenticate(request, store)
        if scope is not None:
            require(key, scope, f"read {request.url.path}")
