"""The email identity of an envelope: the keyed hash the ingest wrote (`Event.email_hash`), which the engine
stitches on without ever seeing the address (services/common/personal/identity.py computes it).

A record the ingest wrote before it computed the hash carries the address in clear instead; for those (and a
replay of them) the engine computes the same hash with the same key, so old and new records of one person
resolve to one lead.
"""

from __future__ import annotations

from services.common.envelope import Event
from services.common.personal.identity import CARRIES_EMAIL, email_hash
from services.stage_engine.domain.lead import EMAIL_HASH, Identity


def email_identities(event: Event, key: bytes) -> tuple[Identity, ...]:
    if event.type not in CARRIES_EMAIL:
        return ()
    if event.email_hash is not None:
        return ((EMAIL_HASH, event.email_hash),)
    email = event.properties.get("email")
    if not isinstance(email, str) or "@" not in email:
        return ()
    return ((EMAIL_HASH, email_hash(email, key)),)
