"""GET /v1/projects/{writeKey}/settings: what analytics.js loads first, with this ingest as its `cdnURL`; and
GET /sourceConfig/, RudderStack's JavaScript SDK's equivalent with this ingest as its `configUrl` (the key as
the Basic user, as the SDK sends it, or its query's `writeKey`; not in the OpenAPI document).

Answered only for a live key with the `tracker` scope; any other key, unknown, revoked or of another scope
(a crm key must never be in a page), gets the same 404, so the route confirms nothing a key's holder does not
already know. From a browser, the page's origin must be one the key lists (403 otherwise, as for posting).
The document (domain/analytics_settings.py) may be cached for `SETTINGS_MAX_AGE_SECONDS`, by the browser or a
CDN in front (`Vary: Origin`, since the CORS header echoes the page's origin).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.api_keys import ApiKey
from services.common.auth import AuthRefused, authenticate, presented_key
from services.common.keys import KeyStore
from services.ingest.api.cors import admit_origin
from services.ingest.api.cors_answer import cors_headers
from services.ingest.api.errors import RequestRefused
from services.ingest.domain.analytics_settings import analytics_js_settings, api_host, rudderstack_source_config

router = APIRouter(tags=["analytics.js"])
SETTINGS_MAX_AGE_SECONDS = 300
NO_SETTINGS = "no settings for this write key: it is not a live key with the tracker scope"
JSON_ANSWER = {"content": {"application/json": {"schema": {"type": "object"}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The settings document: analytics.js then sends every call to this ingest", **JSON_ANSWER},
    403: {"description": "A browser at an origin the key does not list", **JSON_ANSWER},
    404: {"description": "Not a live tracker key (unknown, revoked, or without the tracker scope)", **JSON_ANSWER},
    503: {"description": "PostgreSQL could not be asked about the key; retry after Retry-After", **JSON_ANSWER},
}


@router.get(
    "/v1/projects/{write_key}/settings",
    responses=RESPONSES,
    summary="analytics.js settings for a tracker key (its cdnURL is this ingest)",
    response_class=JSONResponse,
)
async def project_settings(write_key: str, request: Request) -> JSONResponse:
    key = await _tracker_key(request, write_key)
    admit_origin(request, key)
    settings = request.app.state.settings
    host, protocol = api_host(settings.public_url or str(request.base_url))
    headers = {"Cache-Control": f"public, max-age={SETTINGS_MAX_AGE_SECONDS}", "Vary": "Origin"}
    return JSONResponse(analytics_js_settings(write_key, host, protocol), headers=cors_headers(request.scope, headers))


@router.get("/sourceConfig/", include_in_schema=False)
@router.get("/sourceConfig", include_in_schema=False)
async def rudderstack_config(request: Request) -> JSONResponse:
    try:
        presented = presented_key(request)
    except AuthRefused:
        presented = request.query_params.get("writeKey") or ""
    key = await _tracker_key(request, presented)
    admit_origin(request, key)
    headers = {"Cache-Control": f"public, max-age={SETTINGS_MAX_AGE_SECONDS}", "Vary": "Origin"}
    return JSONResponse(rudderstack_source_config(), headers=cors_headers(request.scope, headers))


async def _tracker_key(request: Request, write_key: str) -> ApiKey:
    store: KeyStore = request.app.state.keys
    if not write_key:
        raise RequestRefused(404, "writeKey", NO_SETTINGS)
    try:
        key = await authenticate(request, store, write_key)
    except AuthRefused as exc:
        if exc.status == 503:
            reason = "PostgreSQL is out of reach, so the write key cannot be checked; retry after Retry-After seconds"
            raise RequestRefused(503, exc.field, reason, headers=exc.headers) from None
        raise RequestRefused(404, "writeKey", NO_SETTINGS) from None
    if "tracker" not in key.scopes:
        raise RequestRefused(404, "writeKey", NO_SETTINGS)
    return key
