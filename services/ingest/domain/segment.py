"""Segment-spec calls (also what RudderStack's SDKs send) mapped onto the canonical envelope.

The result is a plain envelope dict, not yet validated: it goes through `EventValidator.validate_batch`
like any other event, so a bad call gets the same errors (named by the envelope's field names).

- `page` → `page_viewed`, `screen` → `screen_viewed`: `segment_views` (what a view keeps of its context, and
  how an anonymous one is reduced).
- `identify` → `identified`: userId → lead_id, anonymousId → anonymous_id; `traits` → `properties.traits`,
  `traits.email` → `properties.email`.
- `alias` → `identified`: previousId → anonymous_id, userId → lead_id (links the two); no properties.
- `group` → `identified`: groupId → account_id, userId → lead_id, anonymousId → anonymous_id; the group's
  `traits` → `properties.traits`.
- `track` whose event name is a type → that type, `properties` as sent. The name is lower-cased and spaces and
  hyphens become `_`: "Form Submitted", "form_submitted", "form-submitted" → form_submitted.
- `track` of any other name → `tracked`: `properties.name` is the event name; a `name` among the call's own
  properties (a product's, a plan's) is kept as `property_name`.

For every call: messageId → event_id (never generated: it is the idempotency key, so a call without one is
refused as "event_id is required"); timestamp, else originalTimestamp → occurred_at, corrected for the
device's clock (`clock_skew`) when a client-side library sent it and the route gives the time it was received;
`context.groupId` → account_id. Numeric userId/anonymousId/groupId become strings; empty or null ones are
absent. The rest of `context` (ip, userAgent, library, traits...) and `integrations` are dropped. Another
call type keeps its name as the type and is refused by validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.common.envelope import EVENT_TYPES
from services.ingest.domain.clock_skew import corrected, is_client_side
from services.ingest.domain.segment_views import call_context, call_properties, map_page, map_screen

_SEPARATORS = re.compile(r"[\s\-]+")
_TRACK_TYPES = frozenset(EVENT_TYPES) - {"tracked"}  # "Tracked" is just another name


class SegmentBodyError(ValueError):
    """The body is not a Segment batch ({"batch": [...]}): the whole request is refused."""


def map_segment_batch(body: object) -> list[object]:
    """The envelopes of a `/v1/batch` body, in order (items that are not objects are passed through unchanged,
    so that validation reports them at their index)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("batch"), list):
        raise SegmentBodyError('a Segment batch must be a JSON object with an array "batch"')
    return [map_segment_call(c, path_type=None) if isinstance(c, Mapping) else c for c in body["batch"]]


def map_segment_call(
    call: Mapping[str, object],
    *,
    path_type: str | None,
    received_at: datetime | None = None,
    sent_at: object = None,
) -> dict[str, object]:
    """One Segment call as an envelope; `path_type` is the call type named by the path (`/v1/track` ->
    "track") and wins over the call's own `type`; None (batch items) reads `type` from the call. With
    `received_at`, a client-side library's stamp is corrected by the call's `sentAt`, else `sent_at` (the
    batch's: analytics.js sends one for the whole batch)."""
    kind = path_type if path_type is not None else call.get("type")
    envelope = _common(call)
    if received_at is not None and "occurred_at" in envelope and is_client_side(call_context(call)):
        sent = call.get("sentAt") or sent_at
        if (occurred_at := corrected(envelope["occurred_at"], sent, received_at)) is not None:
            envelope["occurred_at"] = occurred_at
    mapper = _MAPPERS.get(kind.lower()) if isinstance(kind, str) else None
    if mapper is None:
        if kind is not None:
            envelope["type"] = kind  # refused by validation as an unknown type
        return envelope
    mapper(call, envelope)
    return envelope


def track_type(event_name: object) -> str | None:
    """The stagetrack type a track call's event name denotes ("Form Submitted" -> "form_submitted"), or None."""
    if not isinstance(event_name, str):
        return None
    normalized = _SEPARATORS.sub("_", event_name.strip()).lower()
    return normalized if normalized in _TRACK_TYPES else None


def _common(call: Mapping[str, Any]) -> dict[str, object]:
    envelope: dict[str, object] = {}
    if call.get("messageId") is not None:
        envelope["event_id"] = call["messageId"]
    occurred_at = call.get("timestamp") or call.get("originalTimestamp")
    if occurred_at is not None:
        envelope["occurred_at"] = occurred_at
    _set_id(envelope, "anonymous_id", call.get("anonymousId"))
    _set_id(envelope, "lead_id", call.get("userId"))
    _set_id(envelope, "account_id", call_context(call).get("groupId"))
    return envelope


def _set_id(envelope: dict[str, object], key: str, value: object) -> None:
    if value is None or value == "":
        envelope.pop(key, None)
    elif isinstance(value, int | float) and not isinstance(value, bool) and _whole_and_exact(value):
        envelope[key] = str(int(value))  # 42 and 42.0 alike (JSON Schema's integers), as the OpenAPI document says
    else:
        envelope[key] = value  # a wrong type is reported by validation


def _whole_and_exact(value: float) -> bool:
    """A whole number every JSON parser reads exactly (|n| <= 2^53); a larger one is refused as an id."""
    return abs(value) <= 2**53 and value == int(value)


def _identify(call: Mapping[str, Any], envelope: dict[str, object]) -> None:
    envelope["type"] = "identified"
    traits = call.get("traits", call_context(call).get("traits"))
    props: dict[str, object] = {}
    if traits is not None:
        props["traits"] = traits
    if isinstance(traits, Mapping) and traits.get("email") is not None:
        props["email"] = traits["email"]
    envelope["properties"] = props


def _alias(call: Mapping[str, Any], envelope: dict[str, object]) -> None:
    envelope["type"] = "identified"
    _set_id(envelope, "anonymous_id", call.get("previousId") or call.get("anonymousId"))
    envelope["properties"] = {}


def _group(call: Mapping[str, Any], envelope: dict[str, object]) -> None:
    envelope["type"] = "identified"
    _set_id(envelope, "account_id", call.get("groupId"))
    traits = call.get("traits")
    envelope["properties"] = {} if traits is None else {"traits": traits}


def _track(call: Mapping[str, Any], envelope: dict[str, object]) -> None:
    name, raw = call.get("event"), call_properties(call)
    mapped = track_type(name)
    envelope["type"] = mapped or "tracked"
    if mapped is not None or not isinstance(raw, Mapping):
        envelope["properties"] = raw
        return
    props = dict(raw)
    if "name" in props:
        props["property_name"] = props.pop("name")
    if name is not None:
        props["name"] = name
    envelope["properties"] = props


_MAPPERS: dict[str, Callable[[Mapping[str, Any], dict[str, object]], None]] = {
    "page": map_page,
    "screen": map_screen,
    "identify": _identify,
    "alias": _alias,
    "group": _group,
    "track": _track,
}
