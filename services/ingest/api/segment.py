"""Segment-spec paths, so Segment's and RudderStack's own SDKs, and analytics.js in a browser, post here unchanged.

The key is the Authorization header's (Bearer, or the write key as the Basic user); without that header, the
body's `writeKey` (beside `batch`, or in the call), as analytics.js and beacons send it. Bodies are read as
JSON whatever their Content-Type: analytics.js sends `text/plain`, which needs no CORS preflight. analytics.js
posts each call to the first letter of its type (`/v1/t`, `/v1/p`, ...) and a batch to `/v1/b`; those paths
are the long ones under other names, left out of the OpenAPI document, as is RudderStack's beacon path
(`/beacon/v1/batch?writeKey=...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.api.auth import posting_key, refuse_out_of_scope
from services.ingest.api.body import read_json
from services.ingest.api.errors import RequestRefused
from services.ingest.api.events import RESPONSES, accept, items_of
from services.ingest.domain.segment import map_segment_call

router = APIRouter(tags=["segment"])
CALL_TYPES = ("track", "identify", "page", "screen", "alias", "group")
SHORT_PATHS = {f"/v1/{call_type[0]}": call_type for call_type in CALL_TYPES}  # analytics.js: /v1/t, /v1/i, ...
BATCH_PATHS = ("/v1/batch", "/v1/b")
SEGMENT_RESPONSES = {**RESPONSES, 200: {"description": "As 202 of /v1/events; Segment's SDKs expect 200"}}
del SEGMENT_RESPONSES[202]
NO_KEY_HERE = 'no API key: send `Authorization: Bearer KEY` or Basic KEY:, or "writeKey" in the body'


async def _post(request: Request, path_type: str | None, *, key_in_query: bool = False) -> JSONResponse:
    settings = request.app.state.settings
    if "authorization" in request.headers:
        key = await posting_key(request)  # called, not Depends(): FastAPI's resolver costs per request
        body = await read_json(request, settings.max_body_bytes)
    else:  # the key is in the body (or the beacon's query): read it within the same limits, then judge it
        body = await read_json(request, settings.max_body_bytes)
        key = await posting_key(request, _write_key(request.query_params if key_in_query else body))
    received_at = datetime.now(UTC)
    calls = items_of(body, settings.max_events_per_request, key="batch")
    sent_at = body.get("sentAt") if isinstance(body, dict) else None  # a batch's, for calls without their own
    # an item that is not an object passes through, so validation reports it at its index
    mapped = [
        map_segment_call(c, path_type=path_type, received_at=received_at, sent_at=sent_at) if isinstance(c, dict) else c
        for c in calls
    ]
    refuse_out_of_scope(key, mapped, [lead_id_hash(c) for c in calls])
    return await accept(request, mapped, key.source, 200, received_at)


def _write_key(where: object) -> str:
    key = where.get("writeKey") if isinstance(where, Mapping) else None
    if not isinstance(key, str) or not key:
        raise RequestRefused(401, "authorization", NO_KEY_HERE)
    return key


def lead_id_hash(call: object) -> object:
    """A tracker's identity-verification hash of the call's userId: `context.stagetrack.lead_id_hash` (what
    analytics.js sends from the options' `context`); the mapping drops `context`, so it never reaches Kafka."""
    context = call.get("context") if isinstance(call, dict) else None
    stagetrack = context.get("stagetrack") if isinstance(context, dict) else None
    return stagetrack.get("lead_id_hash") if isinstance(stagetrack, dict) else None


async def batch(request: Request) -> JSONResponse:
    return await _post(request, None)


@router.post("/beacon/v1/batch", include_in_schema=False, name="rudderstack_beacon")
async def beacon(request: Request) -> JSONResponse:
    """RudderStack's JavaScript SDK with `useBeacon`: `sendBeacon` can set no header, so its key is the query's
    `writeKey` (a tracker key is public; a crm key never belongs in a URL, nor in a page)."""
    return await _post(request, None, key_in_query=True)


for _path in BATCH_PATHS:
    router.add_api_route(
        _path,
        batch,
        methods=["POST"],
        responses=SEGMENT_RESPONSES,
        summary='Segment batch: {"batch": [calls]}',
        name="batch" if _path == "/v1/batch" else "segment_batch_short",
        include_in_schema=_path == "/v1/batch",
    )


def _single(call_type: str, path: str, *, documented: bool) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await _post(request, call_type)

    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        responses=SEGMENT_RESPONSES,
        summary=f"Segment `{call_type}` call",
        name=f"segment_{call_type}" if documented else f"segment_{call_type}_short",
        include_in_schema=documented,
    )


for _call_type in CALL_TYPES:
    _single(_call_type, f"/v1/{_call_type}", documented=True)
for _short, _call_type in SHORT_PATHS.items():
    _single(_call_type, _short, documented=False)

POSTING_PATHS = ["/v1/events", *BATCH_PATHS, *(f"/v1/{t}" for t in CALL_TYPES), *SHORT_PATHS, "/beacon/v1/batch"]
