"""POST /v1/events: one event or {"events": [...]}."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.api.auth import posting_key, refuse_out_of_scope, take_lead_id_hashes
from services.ingest.api.body import read_json
from services.ingest.api.cors_answer import cors_headers
from services.ingest.api.errors import RequestRefused, error_body
from services.ingest.app.intake import Intake
from services.ingest.domain.storable import TOO_LARGE

router = APIRouter(tags=["events"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "At least one event is durable in Kafka; `errors` lists the refused ones by index"},
    400: {"description": 'The body is not JSON, or not an event or {"events": [...]}'},
    401: {"description": "The API key is missing, unknown or revoked"},
    403: {
        "description": "The key's scopes do not cover the request: not a crm or tracker key, or a tracker key sending "
        "a type other than a web event, or a lead_id without its valid lead_id_hash; or a browser's Origin the key "
        "does not list (nothing is published)"
    },
    413: {
        "description": "Body (also after gunzip) or event count over the limit; or no event was accepted and one "
        "is larger than the per-event limit once encoded (STAGETRACK_MAX_EVENT_BYTES; in a batch with accepted "
        "events it is listed in `errors` of the 202)"
    },
    415: {"description": "A content encoding other than gzip"},
    422: {"description": "No event of the request is valid; each error names index, field and reason"},
    503: {"description": "Kafka did not acknowledge in time; retry after Retry-After seconds, same event ids"},
}


def items_of(body: object, max_events: int, key: str = "events") -> list[object]:
    """A single event or a wrapper {key: [...]} → the list of items, within the count limit."""
    if isinstance(body, dict) and key in body:
        items = body[key]
        if not isinstance(items, list):
            raise RequestRefused(400, key, f"`{key}` must be an array of events")
    elif isinstance(body, dict):
        items = [body]
    else:
        raise RequestRefused(400, "body", f'the body must be a JSON object: one event or {{"{key}": [...]}}')
    if not items:
        raise RequestRefused(400, key, f"`{key}` is empty")
    if len(items) > max_events:
        raise RequestRefused(413, key, f"{len(items)} events in one request; the limit is {max_events}")
    return items


async def accept(
    request: Request, items: list[object], source: str, ok_status: int, received_at: datetime | None = None
) -> JSONResponse:
    intake: Intake = request.app.state.intake
    result = await intake.accept(items, source, received_at)
    status = ok_status if result.accepted else 413 if any(_too_large(e) for e in result.errors) else 422
    headers = cors_headers(request.scope)  # None unless a browser's origin was admitted
    return JSONResponse(error_body(result.accepted, result.errors), status_code=status, headers=headers)


def _too_large(error: dict[str, Any]) -> bool:
    """An event over the per-event size limit: resending it can never succeed, so not a 422 but a 413."""
    return error["field"] == "" and str(error["reason"]).startswith(TOO_LARGE)


@router.post("/v1/events", status_code=202, responses=RESPONSES, summary="Send one event or a batch")
async def post_events(request: Request) -> JSONResponse:
    key = await posting_key(request)  # called, not Depends(): FastAPI's resolver costs per request
    settings = request.app.state.settings
    body = await read_json(request, settings.max_body_bytes)
    items = items_of(body, settings.max_events_per_request)
    refuse_out_of_scope(key, items, take_lead_id_hashes(items))
    return await accept(request, items, key.source, 202)
