"""HubSpot webhooks' v3 signature check (pure).

Signature (`X-HubSpot-Signature-v3`): base64(HMAC-SHA256(app secret, method + URI + body + timestamp)), the
timestamp being `X-HubSpot-Request-Timestamp` in milliseconds. A timestamp more than `MAX_SKEW_SECONDS` in
the past OR in the future is refused (HubSpot's own client only checks the past).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

MAX_SKEW_SECONDS = 300


class SignatureRefused(ValueError):
    """The request is not provably from HubSpot (401); the message is the reason."""


def verify_signature(
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
) -> None:
    """Raises SignatureRefused unless `signature` is the v3 signature of this request, signed within the skew."""
    if not signature:
        raise SignatureRefused("X-HubSpot-Signature-v3 is missing")
    if not timestamp:
        raise SignatureRefused("X-HubSpot-Request-Timestamp is missing")
    try:
        signed_at_ms = int(timestamp)
    except ValueError:
        raise SignatureRefused("X-HubSpot-Request-Timestamp is not a whole number of milliseconds") from None
    skew = now.timestamp() - signed_at_ms / 1000
    if skew > MAX_SKEW_SECONDS:
        raise SignatureRefused(f"the request timestamp is more than {MAX_SKEW_SECONDS} s old")
    if skew < -MAX_SKEW_SECONDS:
        raise SignatureRefused(f"the request timestamp is more than {MAX_SKEW_SECONDS} s in the future")
    message = method.encode() + uri.encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureRefused("X-HubSpot-Signature-v3 does not match the request (wrong secret or altered)")
