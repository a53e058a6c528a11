"""Who is posting: an API key as `Authorization: Bearer KEY` or, as Segment's SDKs send the write key,
as the HTTP Basic user name."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from services.ingest.adapters.source_keys import KeyStoreUnavailable, SourceKeys
from services.ingest.api.errors import RequestRefused


def _key_from(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        raise RequestRefused(401, "authorization", "no API key: send `Authorization: Bearer KEY` or Basic KEY:")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, _ = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise RequestRefused(401, "authorization", "the Basic credentials are not valid base64") from exc
        if user:
            return user
    raise RequestRefused(401, "authorization", "no API key: send `Authorization: Bearer KEY` or Basic KEY:")


async def authenticated_source(request: Request) -> str:
    keys: SourceKeys = request.app.state.source_keys
    try:
        source = await keys.source_of(_key_from(request))
    except KeyStoreUnavailable as exc:
        retry_after = str(request.app.state.settings.retry_after_seconds)
        reason = f"{exc}; nothing was stored: retry after Retry-After seconds with the same event ids"
        raise RequestRefused(503, "postgres", reason, headers={"Retry-After": retry_after}) from exc
    if source is None:
        raise RequestRefused(401, "authorization", "the API key is unknown or revoked")
    return source
