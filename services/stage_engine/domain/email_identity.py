"""The email identity: a keyed hash (HMAC-SHA256 with the deployment's secret) of the normalized address.

The clear address is never stored by the engine; the same address always gives the same identity, so a form
and a CRM identify call for one person resolve to one lead. Normalization: trimmed, lower-cased.
"""

from __future__ import annotations

import hashlib
import hmac

from services.common.envelope import Event
from services.stage_engine.domain.lead import EMAIL_HASH, Identity

CARRIES_EMAIL = frozenset({"form_submitted", "identified"})


def email_identities(event: Event, key: bytes) -> tuple[Identity, ...]:
    if event.type not in CARRIES_EMAIL:
        return ()
    email = event.properties.get("email")
    if not isinstance(email, str) or "@" not in email:
        return ()
    digest = hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()
    return ((EMAIL_HASH, digest),)
