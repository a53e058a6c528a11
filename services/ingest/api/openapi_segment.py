"""The Segment-spec bodies of the OpenAPI document: one schema per call type, as the ingest reads it.

A call is mapped onto the envelope (services/ingest/domain/segment.py) and the envelope is then validated, so
each field here carries the constraint of the envelope field it becomes (messageId → event_id, userId →
lead_id, timestamp → occurred_at, ...), and a field the call type does not read is left unconstrained (it is
ignored: `traits` of a track call, `type` on /v1/track). `segment-call.schema.json` gives the descriptions.

- messageId is required; timestamp, else (when timestamp is absent or empty) originalTimestamp, is occurred_at.
- userId and anonymousId (numbers become strings; null and "" count as absent): at least one of them. An
  alias call reads previousId first, anonymousId when previousId is absent or empty.
- track: an event name that is a type ("Form Submitted", "form_submitted", any case, spaces or hyphens for
  `_`) takes that type's properties; any other name is a `tracked` event of that name.
- page: the page_viewed properties; without `properties.path`, the path of `properties.url`.
- screen: the screen_viewed properties; the call's `name` and `category` win over those of `properties`.
- identify: `traits.email`, when present, is the person's email; group: `groupId` is the account.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from services.common.envelope import EVENT_TYPES
from services.ingest.api.openapi_events import any_case, batch, has_required, ref
from services.ingest.api.segment import CALL_TYPES
from services.ingest.domain.schemas import Schema

JSON = dict[str, Any]
FALSY: JSON = {"enum": [None, "", 0, False, [], {}]}  # what the mapping reads as "absent" before the next field
_INTEGER_ID = {"type": "integer", "minimum": -(2**53), "maximum": 2**53}  # read exactly by every JSON parser
_TRACK_TYPES = [t for t in EVENT_TYPES if t != "tracked"]
_FILE_KEYS = ("$schema", "$id", "required", "examples", "title")
# A URL whose path (urllib.parse.urlsplit) starts with / or is empty (then /): after an optional scheme, a /
# (also //host), ? or #, or nothing.
_URL_WITH_PATH = "^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?:[/?#]|$)"


class SegmentSchemas:
    def __init__(self, envelope: Schema, segment_call: Schema, type_schemas: Mapping[str, Schema]) -> None:
        self._fields = envelope["properties"]
        self._described = segment_call["properties"]
        self._types = type_schemas

    def components(self, max_events: int) -> JSON:
        """`SegmentCall.<type>`, `SegmentBatch.<type>` (what the single-call paths take), `SegmentBatchItem.<type>`,
        `SegmentBatchItem` and `SegmentBatch` (what /v1/batch takes)."""
        schemas: JSON = {}
        for call_type in CALL_TYPES:
            schemas[f"SegmentCall.{call_type}"] = self.call(call_type)
            schemas[f"SegmentBatch.{call_type}"] = batch("batch", f"SegmentCall.{call_type}", max_events)
            schemas[f"SegmentBatchItem.{call_type}"] = self.call(call_type, in_batch=True)
        typed = [ref(f"SegmentBatchItem.{t}") for t in CALL_TYPES]
        schemas["SegmentBatchItem"] = {"description": "a call whose `type` names its call type", "anyOf": typed}
        schemas["SegmentBatch"] = batch("batch", "SegmentBatchItem", max_events)
        return schemas

    def call(self, call_type: str, *, in_batch: bool = False) -> JSON:
        """A call as a single-call path reads it (`type` ignored), or as an item of /v1/batch (`type` names it,
        in any case)."""
        ignored = self._note("type", "ignored on the single-call paths: the path names the call type")
        properties: JSON = {
            "type": {**self._note("type"), **_named(call_type)} if in_batch else ignored,
            "messageId": self._field("messageId", "event_id"),
            "timestamp": {**self._note("timestamp"), "anyOf": [self._occurred_at(), FALSY]},
            "originalTimestamp": self._note("originalTimestamp"),
            "userId": self._id("userId", "lead_id"),
            "anonymousId": self._id("anonymousId", "anonymous_id"),
            "context": self._context(read_group_id=call_type != "group"),
        }
        rules: list[JSON] = [self._time_rule()]
        extra, extra_rules = getattr(self, f"_{call_type}")()
        properties.update(extra)
        rules += extra_rules
        return {
            "type": "object",
            "description": f"a `{call_type}` call, each field as the ingest reads it for this call type",
            "required": ["type", "messageId"] if in_batch else ["messageId"],
            "properties": properties,
            "allOf": rules,
        }

    def _page(self) -> tuple[JSON, list[JSON]]:
        return {
            "properties": {**self._page_properties(), **self._note("properties")},
            "name": self._note("name"),
            "category": self._note("category"),
        }, [{"required": ["properties"]}, self._some_id("anonymousId")]

    def _page_properties(self) -> JSON:
        """page_viewed's properties, except that null or "" count as absent, and without `path` the path is the
        URL's (so the URL must have one: `/pricing`, `https://example.com/pricing`, `https://example.com`)."""
        schema = {k: copy.deepcopy(v) for k, v in self._types["page_viewed"].items() if k not in _FILE_KEYS}
        props = schema["properties"]
        path = props["path"]
        for key in ("path", "url", "title", "referrer"):
            props[key] = {"anyOf": [props[key], {"enum": [None, ""]}]}
        url_path = {**copy.deepcopy(props["url"]["anyOf"][0]), "minLength": 1, "pattern": _URL_WITH_PATH}
        url_path["maxLength"] = min(url_path.get("maxLength", path["maxLength"]), path["maxLength"])
        by_url = {"required": ["url"], "properties": {"path": {"enum": [None, ""]}, "url": url_path}}
        schema["anyOf"] = [{"required": ["path"], "properties": {"path": path}}, by_url]
        return schema

    def _screen(self) -> tuple[JSON, list[JSON]]:
        """The call's `name` and `category` (unless null or "") win over those of `properties`; `properties` is
        screen_viewed's without them, and may be null or absent when the call names the screen."""
        schema = {k: copy.deepcopy(v) for k, v in self._types["screen_viewed"].items() if k not in _FILE_KEYS}
        name, category = schema["properties"].pop("name"), schema["properties"].pop("category")
        absent = {"enum": [None, ""]}
        named_inside = {"type": "object", "required": ["name"], "properties": {"name": name}}
        name_rule = {
            "anyOf": [
                {"required": ["name"], "properties": {"name": name}},
                {"required": ["properties"], "properties": {"name": absent, "properties": named_inside}},
            ]
        }
        category_rule = {
            "anyOf": [
                {"required": ["category"], "properties": {"category": category}},
                {"properties": {"category": absent, "properties": {"properties": {"category": category}}}},
            ]
        }
        fields = {
            "properties": {**self._note("properties"), "anyOf": [{"type": "null"}, schema]},
            "name": {**self._note("name"), "anyOf": [absent, name]},
            "category": {**self._note("category"), "anyOf": [absent, category]},
        }
        return fields, [name_rule, category_rule, self._some_id("anonymousId")]

    def _track(self) -> tuple[JSON, list[JSON]]:
        typed = [self._track_as(t) for t in _TRACK_TYPES]
        name = copy.deepcopy(self._types["tracked"]["properties"]["name"])
        any_type = {"pattern": "|".join(f"(?:{_spellings(t)})" for t in _TRACK_TYPES)}
        tracked = {
            "required": ["event"],
            "properties": {"event": {**name, "not": any_type}, "properties": {"type": ["object", "null"]}},
        }
        event = self._note("event")
        return {"event": event, "properties": self._note("properties")}, [
            {"anyOf": [*typed, tracked]},
            self._some_id("anonymousId"),
        ]

    def _track_as(self, event_type: str) -> JSON:
        schema = self._types[event_type]
        props = ref(f"Properties.{event_type}")
        if not has_required(schema):  # null reads as {}, which has all it needs
            props = {"anyOf": [{"type": "null"}, props]}
        required = ["event", "properties"] if has_required(schema) else ["event"]
        event = {"type": "string", "pattern": _spellings(event_type)}
        return {"required": required, "properties": {"event": event, "properties": props}}

    def _identify(self) -> tuple[JSON, list[JSON]]:
        email = copy.deepcopy(self._types["identified"]["properties"]["email"])
        traits = {"type": "object", "properties": {"email": {"anyOf": [{"type": "null"}, email]}}}
        return {"traits": {**self._note("traits"), "anyOf": [{"type": "null"}, traits]}}, [self._some_id("anonymousId")]

    def _alias(self) -> tuple[JSON, list[JSON]]:
        anonymous = self._id("anonymousId", "anonymous_id")
        truthy = {"anyOf": [self._string_id("anonymous_id"), {**_INTEGER_ID, "not": {"const": 0}}]}
        previous_read = {"required": ["previousId"], "properties": {"previousId": truthy}}
        otherwise = {"properties": {"previousId": FALSY, "anonymousId": anonymous}}
        some_id = {"anyOf": [previous_read, *self._some_id("anonymousId", reading_previous=True)["anyOf"]]}
        return {
            "previousId": {**self._note("previousId"), "anyOf": [truthy, FALSY]},
            "anonymousId": {**self._note("anonymousId")},
        }, [{"anyOf": [previous_read, otherwise]}, some_id]

    def _group(self) -> tuple[JSON, list[JSON]]:
        traits = {**self._note("traits"), "type": ["object", "null"]}
        return {"groupId": self._id("groupId", "account_id"), "traits": traits}, [self._some_id("anonymousId")]

    def _some_id(self, anonymous: str, *, reading_previous: bool = False) -> JSON:
        """At least one of userId and the anonymous id is there (not null, not "")."""
        lead = {"required": ["userId"], "properties": {"userId": self._present_id("lead_id")}}
        anon: JSON = {"required": [anonymous], "properties": {anonymous: self._present_id("anonymous_id")}}
        if reading_previous:
            anon["properties"]["previousId"] = FALSY
        return {"anyOf": [lead, anon]}

    def _time_rule(self) -> JSON:
        timestamp = {"required": ["timestamp"], "properties": {"timestamp": self._occurred_at()}}
        original = {
            "required": ["originalTimestamp"],
            "properties": {"timestamp": FALSY, "originalTimestamp": self._occurred_at()},
        }
        return {"anyOf": [timestamp, original]}

    def _context(self, *, read_group_id: bool) -> JSON:
        note = self._note("context")
        if not read_group_id:
            return note
        read = {"type": "object", "properties": {"groupId": self._id("context.groupId", "account_id")}}
        return {**note, "anyOf": [{"not": {"type": "object"}}, read]}

    def _occurred_at(self) -> JSON:
        return copy.deepcopy(self._fields["occurred_at"])

    def _field(self, name: str, envelope_field: str) -> JSON:
        return {**copy.deepcopy(self._fields[envelope_field]), **self._note(name)}

    def _string_id(self, envelope_field: str) -> JSON:
        return {**copy.deepcopy(self._fields[envelope_field]), "type": "string"}

    def _present_id(self, envelope_field: str) -> JSON:
        return {"anyOf": [self._string_id(envelope_field), _INTEGER_ID]}

    def _id(self, name: str, envelope_field: str) -> JSON:
        absent = {"enum": [None, ""]}
        return {**self._note(name), "anyOf": [absent, self._string_id(envelope_field), _INTEGER_ID]}

    def _note(self, name: str, fallback: str = "") -> JSON:
        """The field's description in segment-call.schema.json (`fallback` when it has none)."""
        described = self._described.get(name, {}).get("description", fallback)
        return {"description": described} if described else {}


def _named(call_type: str) -> JSON:
    return {"type": "string", "pattern": f"^{any_case(call_type)}$"}


def _spellings(event_type: str) -> str:
    """Every event name that maps to `event_type`: any case, `_` or a run of spaces and hyphens between words,
    spaces around (services.ingest.domain.segment.track_type)."""
    return r"^\s*" + r"(?:_|[\s-]+)".join(any_case(w) for w in event_type.split("_")) + r"\s*$"
