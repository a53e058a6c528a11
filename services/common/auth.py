"""Who is asking and may they: the API key of a request (`Authorization: Bearer KEY`, or the HTTP Basic user
name as Segment's SDKs send their write key), resolved in the shared key store and checked against a scope."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from services.common.api_keys import ApiKey
from services.common.keys import KeyStore, KeyStoreUnavailable

NO_KEY = "no API key: send `Authorization: Bearer KEY` or Basic KEY:"
DEFAULT_RETRY_AFTER_SECONDS = 5


class AuthRefused(Exception):
    """401: no, unknown or revoked key; 403: the key's scopes do not cover the request; 503: key store down."""

    def __init__(self, status: int, field: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.field = field
        self.reason = reason
        self.headers = headers or {}


def presented_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        raise AuthRefused(401, "authorization", NO_KEY)
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, _ = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthRefused(401, "authorization", "the Basic credentials are not valid base64") from exc
        if user:
            return user
    raise AuthRefused(401, "authorization", NO_KEY)


async def authenticate(request: Request, store: KeyStore, key: str | None = None) -> ApiKey:
    """The live key of the request (or `key` when it comes another way, e.g. a path token): 401 or 503."""
    try:
        found = await store.authenticate(presented_key(request) if key is None else key)
    except KeyStoreUnavailable as exc:
        settings = getattr(request.app.state, "settings", None)
        retry_after = str(getattr(settings, "retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS))
        reason = f"{exc}; nothing was stored: retry after Retry-After seconds with the same event ids"
        raise AuthRefused(503, "postgres", reason, headers={"Retry-After": retry_after}) from exc
    if found is None:
        raise AuthRefused(401, "authorization", "the API key is unknown or revoked")
    return found


def require(key: ApiKey, scope: str, what: str) -> None:
    """403 unless `key` has `scope`; the reason names the key's scopes, what was refused and the scope needed."""
    if scope not in key.scopes:
        raise AuthRefused(403, "authorization", f"{refusal(key, what)}: that needs scope `{scope}`")


def refusal(key: ApiKey, what: str) -> str:
    held = ", ".join(sorted(key.scopes)) or "none"
    return f"a key with scope {held} may not {what}"


async def authorize(request: Request, store: KeyStore, scope: str, what: str) -> ApiKey:
    """The live key of the request if it holds `scope`; AuthRefused 401/403/503 otherwise."""
    key = await authenticate(request, store)
    require(key, scope, what)
    return key
