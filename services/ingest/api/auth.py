"""Who is posting and may they: the key (shared check in services.common.auth), the page's origin for a browser
(api/cors.py) and, for a tracker key, each event's type and lead id (services.ingest.domain.scopes). Refusals
keep the ingest's error shape."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from services.common.api_keys import ApiKey
from services.common.auth import AuthRefused, authenticate, refusal
from services.common.keys import KeyStore
from services.ingest.api.cors import admit_origin
from services.ingest.api.errors import RequestRefused
from services.ingest.domain.scopes import LEAD_ID_HASH, may_post, out_of_scope


async def posting_key(request: Request, presented: str | None = None) -> ApiKey:
    """The request's key (of its Authorization header, else `presented`: a writeKey from the body) if it may post
    events at all (`crm` or `tracker`) and, from a browser, at the page's origin: 401, 403 or 503 otherwise."""
    store: KeyStore = request.app.state.keys
    try:
        key = await authenticate(request, store, presented)
    except AuthRefused as exc:
        raise RequestRefused(exc.status, exc.field, exc.reason, headers=exc.headers) from None
    if not may_post(key):
        raise RequestRefused(403, "authorization", f"{refusal(key, 'post events')}: that needs scope crm or tracker")
    admit_origin(request, key)
    return key


def take_lead_id_hashes(items: list[object]) -> list[object]:
    """Removes each event's `lead_id_hash` (checked here, never forwarded) and returns them by index."""
    hashes: list[object] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and LEAD_ID_HASH in item:
            item = dict(item)
            hashes.append(item.pop(LEAD_ID_HASH))
            items[index] = item
        else:
            hashes.append(None)
    return hashes


def refuse_out_of_scope(key: ApiKey, events: Sequence[object], hashes: Sequence[object]) -> None:
    """403 naming the first event (index), field and reason a tracker key may not send; nothing is published."""
    for index, (event, presented) in enumerate(zip(events, hashes, strict=True)):
        problem = out_of_scope(key, event, presented)
        if problem is not None:
            raise RequestRefused(403, problem[0], problem[1], index=index)
