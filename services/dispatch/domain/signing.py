"""Standard Webhooks signatures (standardwebhooks.com): three headers per attempt.

    webhook-id: msg_...             the same for every attempt of one message (receivers dedupe on it)
    webhook-timestamp: 1767225600   seconds since the epoch, of this attempt (receivers refuse stale ones)
    webhook-signature: v1,<base64>  HMAC-SHA256 over "<id>.<timestamp>.<body>" with the secret's key

The secret is written `whsec_<base64 of the key>`, as the spec's libraries read it. It is held in `Secret`,
whose repr never shows it, so a log line or a traceback that prints an endpoint does not leak it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 24  # the spec's lower bound for a secret's key
MAX_KEY_BYTES = 64


class Secret:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def parse(cls, text: str) -> Secret:
        """`whsec_<base64>`; raises ValueError saying what is wrong (never quoting the secret)."""
        if not text.startswith(SECRET_PREFIX):
            raise ValueError(f"a signing secret starts with {SECRET_PREFIX} followed by base64")
        try:
            key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"a signing secret is {SECRET_PREFIX} followed by base64; this one is not") from None
        if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
            raise ValueError(f"a signing secret's key is {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, not {len(key)}")
        return cls(key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(hmac.new(self._key, message, hashlib.sha256).digest()).decode()

    def __repr__(self) -> str:
        return "Secret(****)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(Secret)


def signature_headers(secret: Secret | None, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt; without a secret (a Slack URL is its own secret) no signature."""
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp)}
    if secret is not None:
        signed = b"%s.%d.%s" % (webhook_id.encode(), timestamp, body)
        headers["webhook-signature"] = f"v1,{secret.sign(signed)}"
    return headers


def webhook_id(moment_key: str, endpoint: str) -> str:
    """Stable per moment and endpoint: `msg_` and 32 hex digits of a hash of both."""
    digest = hashlib.sha256(f"{moment_key}\x00{endpoint}".encode()).hexdigest()
    return f"msg_{digest[:32]}"
