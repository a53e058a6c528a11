"""An envelope's personal fields sealed into `Event.sealed`, and opened again (or shown as erased).

`sealed` = {"key": the data key's id, "fields": the paths taken out of `properties`, "box": the values, in the
order of `fields`, as one AES-GCM ciphertext bound to the event id}. One encryption per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from services.common.envelope import Event
from services.common.personal.sealed_fields import ERASED, Path, merge_personal
from services.common.personal.sealing import Unreadable, open_values, seal_values


def sealed_event(
    event: Event,
    kept: dict[str, Any],
    fields: list[tuple[Path, Any]],
    key_id: str,
    data_key: bytes,
    email_hash: str | None = None,
) -> Event:
    """`event` with `fields` sealed, and `email_hash` written when given (one copy of the envelope for both)."""
    box = seal_values(data_key, event.event_id, [value for _, value in fields])
    sealed = {"key": key_id, "fields": [list(path) for path, _ in fields], "box": box}
    hashed = event.email_hash if email_hash is None else email_hash
    return msgspec.structs.replace(event, properties=kept, sealed=sealed, email_hash=hashed)


def sealed_key_id(event: Event) -> str | None:
    key = event.sealed.get("key") if event.sealed is not None else None
    return key if isinstance(key, str) else None


def opened_properties(event: Event, data_keys: Mapping[str, bytes]) -> tuple[dict[str, Any], bool]:
    """(the event's properties with its sealed fields put back, whether they opened); fields whose key is gone
    (erased) or that do not open read `ERASED`."""
    sealed = event.sealed
    if sealed is None:
        return dict(event.properties), True
    paths: list[Path] = [tuple(str(part) for part in path) for path in sealed.get("fields", [])]
    key = data_keys.get(sealed_key_id(event) or "")
    values: list[object] | None = None
    if key is not None:
        try:
            values = open_values(key, event.event_id, str(sealed.get("box", "")))
        except Unreadable:
            values = None
    if values is None or len(values) != len(paths):
        return merge_personal(event.properties, ((path, ERASED) for path in paths)), False
    return merge_personal(event.properties, zip(paths, values, strict=True)), True
