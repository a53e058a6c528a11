"""CORS by key (docs/security.md, "Browsers: CORS by key"): the answers a browser needs to post from a page.

- A request with an `Origin` header comes from a browser: once its key is known, the origin must be one the
  key lists (`domain.origins`), else 403 naming the origin, without CORS headers (the page cannot read it)
  and with nothing stored. Allowed, every answer of that request carries `Access-Control-Allow-Origin` (the
  origin echoed), `Vary: Origin` and `Access-Control-Expose-Headers: Retry-After`; never credentials.
- A preflight (OPTIONS) carries no key, so it cannot be judged by one: it is answered for any http(s) origin,
  and the request that follows is judged. Answering only the origins some live key lists would cost a key
  lookup per preflight and tell anyone which sites use this ingest.
- A request without `Origin` (a server, an SDK, curl) is not concerned.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.types import Scope

from services.common.api_keys import ApiKey
from services.ingest.api.cors_answer import ALLOWED_ORIGIN
from services.ingest.api.errors import RequestRefused
from services.ingest.domain.origins import origin_refusal, serialized_origin

# What the libraries send: analytics.js Authorization and Content-Type (text/plain), a retry count on retries;
# RudderStack's SDK AnonymousId and SentAt; any client may gzip.
ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count, AnonymousId, SentAt"
PREFLIGHT_MAX_AGE_SECONDS = 7200  # Chromium's ceiling; Firefox would keep it a day
_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST",  # GET: RudderStack's SDK sends its key to /sourceConfig
    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    "Vary": "Origin",
}


def admit_origin(request: Request, key: ApiKey) -> None:
    """403 when the request comes from a page whose origin `key` does not allow; else notes the origin so that
    the answer carries the CORS headers. A request without `Origin` passes untouched."""
    origin = _raw_header(request.scope, b"origin")
    if origin is None:
        return
    refusal = origin_refusal(key.origins, origin, request.headers.get("host"))
    if refusal is not None:
        raise RequestRefused(403, "origin", refusal)
    request.scope[ALLOWED_ORIGIN] = origin


def _raw_header(scope: Scope, name: bytes) -> str | None:
    """A header from the ASGI scope (names arrive lower-cased): Starlette's Headers.get raises and catches a
    KeyError for an absent one, the common server-side case, and this runs on every post."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def preflight(request: Request) -> Response:
    headers = dict(_PREFLIGHT)
    origin = request.headers.get("origin")
    if origin is not None and serialized_origin(origin) is not None:
        headers["Access-Control-Allow-Origin"] = origin
    return Response(status_code=204, headers=headers)


def preflight_router(paths: list[str]) -> APIRouter:
    """OPTIONS on each of `paths` (the posting routes, RudderStack's source configuration), outside the OpenAPI
    document."""
    router = APIRouter()
    for path in paths:
        router.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False, name=f"preflight {path}")
    return router
