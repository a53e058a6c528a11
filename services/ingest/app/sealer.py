"""Identity and encryption at the door: before a request's events are published, each that carries an email gets
its keyed hash (`Event.email_hash`), and the personal fields of each identified event are sealed under the data
key of the person its identities name (docs/privacy.md). Events with nothing personal pass untouched, without a
query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from services.common.envelope import Event
from services.common.personal.identity import ANONYMOUS, CARRIES_EMAIL, CRM, EMAIL_HASH, email_hash
from services.common.personal.key_statements import Identity
from services.common.personal.person_keys import PersonKeys
from services.common.personal.sealed_event import sealed_event
from services.common.personal.sealed_fields import Path as FieldPath
from services.common.personal.sealed_fields import split_personal
from services.common.stage_model.model import model_or_default


class Sealer:
    def __init__(self, keys: PersonKeys, hash_key: bytes, marked: Iterable[str] = ()) -> None:
        self._keys = keys
        self._hash_key = hash_key
        self._marked = tuple(marked)

    async def seal(self, events: Sequence[Event]) -> list[Event]:
        out = list(events)
        waiting: list[tuple[int, dict[str, Any], list[tuple[FieldPath, Any]], str | None, tuple[Identity, ...]]] = []
        for n, event in enumerate(events):
            hashed = None
            if event.type in CARRIES_EMAIL:
                hashed = self._email_hash(event)
            elif event.lead_id is None:
                continue  # anonymous: the personal-data guard refused whatever personal it held
            if not event.properties:
                continue
            kept, fields = split_personal(event.properties, self._marked, event.type)
            if fields:
                identities = person_identities(event, hashed)
                waiting.append((n, kept, fields, hashed, identities))
            elif hashed is not None:
                out[n] = msgspec.structs.replace(event, email_hash=hashed)
        if waiting:
            keys = await self._keys.keys_for([identities for *_, identities in waiting])
            for (n, kept, fields, hashed, _), (key_id, data_key) in zip(waiting, keys, strict=True):
                out[n] = sealed_event(out[n], kept, fields, key_id, data_key, hashed)
        return out

    def _email_hash(self, event: Event) -> str | None:
        email = event.properties.get("email")
        return email_hash(email, self._hash_key) if isinstance(email, str) and "@" in email else None


def person_identities(event: Event, hashed: str | None = None) -> tuple[Identity, ...]:
    """The identities a person's key is found by: the email's hash (`hashed`, else the event's) and the CRM id;
    an event with neither (an identify call with traits but no email) falls back on its anonymous id."""
    found: list[Identity] = []
    if (hashed := hashed or event.email_hash) is not None:
        found.append((EMAIL_HASH, hashed))
    if event.lead_id:
        found.append((CRM, event.lead_id))
    if not found and event.anonymous_id:
        found.append((ANONYMOUS, event.anonymous_id))
    return tuple(found)


def personal_marks(personal_keys: Iterable[str], stage_model: Path | None) -> list[str]:
    """The keys a deployment marks personal: the setting's, and the stage model's `personal:` list."""
    model = model_or_default(stage_model)
    return [*personal_keys, *model.personal]
