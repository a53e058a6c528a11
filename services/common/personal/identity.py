"""The email identity: a keyed hash (HMAC-SHA256 with the deployment's secret) of the normalized address.

The ingest computes it from the address it receives and writes it into the envelope (`email_hash`); the engine
stitches on it and never needs the address. The same address always gives the same identity, so a form and a
CRM identify call for one person resolve to one lead. Normalization: trimmed, lower-cased. The hash is a
pseudonym: whoever holds the key can test an address against it (docs/privacy.md "The email identity").
"""

from __future__ import annotations

import hashlib
import hmac

EMAIL_HASH = "email_hash"
CRM = "crm"
ANONYMOUS = "anonymous"
# The event types whose `properties.email` identifies the person (the others may not carry one on anonymous events).
CARRIES_EMAIL = frozenset({"form_submitted", "identified"})


def email_hash(email: str, key: bytes) -> str:
    return hmac.digest(key, email.strip().lower().encode(), "sha256").hex()  # hmac.new's result, in one C call


def subject_hash(kind: str, value: str, key: bytes) -> str:
    """What an erasure receipt keeps of its subject: a keyed hash of `kind:value`, never the value."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
