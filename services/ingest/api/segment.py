"""Segment-spec paths, so Segment's and RudderStack's own SDKs post here unchanged (write key = Basic user)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.api.auth import posting_key, refuse_out_of_scope
from services.ingest.api.body import read_json
from services.ingest.api.events import RESPONSES, accept, items_of
from services.ingest.domain.segment import map_segment_call

router = APIRouter(tags=["segment"])
CALL_TYPES = ("track", "identify", "page", "alias", "group")
SEGMENT_RESPONSES = {**RESPONSES, 200: {"description": "As 202 of /v1/events; Segment's SDKs expect 200"}}
del SEGMENT_RESPONSES[202]


async def _post(request: Request, path_type: str | None) -> JSONResponse:
    key = await posting_key(request)  # called, not Depends(): FastAPI's resolver costs per request
    settings = request.app.state.settings
    body = await read_json(request, settings.max_body_bytes)
    calls = items_of(body, settings.max_events_per_request, key="batch")
    # an item that is not an object passes through, so validation reports it at its index
    mapped = [map_segment_call(c, path_type=path_type) if isinstance(c, dict) else c for c in calls]
    refuse_out_of_scope(key, mapped, [lead_id_hash(c) for c in calls])
    return await accept(request, mapped, key.source, 200)


def lead_id_hash(call: object) -> object:
    """A tracker's identity-verification hash of the call's userId: `context.stagetrack.lead_id_hash` (what
    analytics.js sends from the options' `context`); the mapping drops `context`, so it never reaches Kafka."""
    context = call.get("context") if isinstance(call, dict) else None
    stagetrack = context.get("stagetrack") if isinstance(context, dict) else None
    return stagetrack.get("lead_id_hash") if isinstance(stagetrack, dict) else None


@router.post("/v1/batch", responses=SEGMENT_RESPONSES, summary='Segment batch: {"batch": [calls]}')
async def batch(request: Request) -> JSONResponse:
    return await _post(request, None)


def _single(call_type: str) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await _post(request, call_type)

    router.add_api_route(
        f"/v1/{call_type}",
        endpoint,
        methods=["POST"],
        responses=SEGMENT_RESPONSES,
        summary=f"Segment `{call_type}` call",
        name=f"segment_{call_type}",
    )


for _call_type in CALL_TYPES:
    _single(_call_type)
