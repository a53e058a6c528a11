"""The ingest's OpenAPI document (/openapi.json, /docs), its bodies taken from the JSON Schemas under schemas/.

The routes read the raw body themselves (size limits, gzip, per-item errors), so FastAPI sees no request
model. `install_openapi` completes FastAPI's generated document with the schema files, the single source of
truth, as components: `Envelope`, `Properties.<type>` (each events/<type>.schema.json), `Event.<type>` (the
envelope with that type's properties), `Event` (one of them), `EventBatch`, `SegmentCall`, `SegmentBatch`;
the request bodies, with the examples of the schema files; the answer (`IngestAnswer`) on every status;
the security schemes (Bearer key, or the key as the HTTP Basic user, as Segment's write key).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.ingest.api.segment import CALL_TYPES
from services.ingest.domain.schemas import Schema, Validators

JSON = dict[str, Any]
DESCRIPTION = (
    'Send events as `POST /v1/events` (one event or `{"events": [...]}`), or as Segment-spec calls on '
    "`/v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/alias`, `/v1/group`. Bodies may be gzipped "
    "(`Content-Encoding: gzip`). Authenticate with `Authorization: Bearer KEY`, or with the key as the HTTP "
    "Basic user name (Segment's write key). A 2xx means every event not listed in `errors` is durable in Kafka."
)
SECURITY: list[dict[str, list[str]]] = [{"bearerKey": []}, {"writeKey": []}]
SECURITY_SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "the API key of `stagetrack keys create`"},
    "writeKey": {"type": "http", "scheme": "basic", "description": "the API key as the user name, no password"},
}
ANSWER_EXAMPLE = {
    "accepted": 2,
    "rejected": 1,
    "errors": [{"index": 1, "event_id": "e-17", "field": "properties.path", "reason": "is required"}],
}


def install_openapi(app: FastAPI, validators: Validators, segment_call: Schema, max_events: int) -> None:
    """Replaces `app.openapi`: the document is built once, on first request, from FastAPI's and the schemas."""

    def openapi() -> JSON:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
            app.openapi_schema = complete(document, validators, segment_call, max_events)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: JSON, validators: Validators, segment_call: Schema, max_events: int) -> JSON:
    """FastAPI's document with the components, request bodies, answers and security of the ingest routes."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(_schemas(validators, segment_call, max_events))
    components["securitySchemes"] = SECURITY_SCHEMES
    bodies = {
        "/v1/events": _body("EventBatch", "Event", _event_examples(validators)),
        "/v1/batch": _body("SegmentBatch", None, _segment_examples(segment_call, None)),
        **{f"/v1/{t}": _body("SegmentBatch", "SegmentCall", _segment_examples(segment_call, t)) for t in CALL_TYPES},
    }
    for path, body in bodies.items():
        operation = document["paths"][path]["post"]
        operation["requestBody"] = body
        operation["security"] = SECURITY
        _answers(operation["responses"])
    return document


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _component(schema: Schema) -> JSON:
    """A schema file as an OpenAPI 3.1 component: its own `$schema` and `$id` dropped (the document's apply)."""
    return {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("$schema", "$id")}


def _schemas(validators: Validators, segment_call: Schema, max_events: int) -> JSON:
    examples = _typed_examples(validators)
    schemas: JSON = {"Envelope": _component(validators.envelope_schema)}
    for event_type, schema in validators.type_schemas.items():
        schemas[f"Properties.{event_type}"] = _component(schema)
        schemas[f"Event.{event_type}"] = {
            "title": f"{event_type} event",
            "description": schema.get("description", ""),
            "allOf": [_ref("Envelope")],
            "properties": {"type": {"const": event_type}, "properties": _ref(f"Properties.{event_type}")},
            "required": ["type"],
            "examples": [examples[event_type]],
        }
    schemas["Event"] = {
        "oneOf": [_ref(f"Event.{t}") for t in validators.type_schemas],
        "discriminator": {"propertyName": "type", "mapping": {t: _ref(f"Event.{t}")["$ref"] for t in examples}},
    }
    schemas["EventBatch"] = _batch("events", "Event", max_events)
    schemas["SegmentCall"] = _component(segment_call)
    schemas["SegmentBatch"] = _batch("batch", "SegmentCall", max_events)
    schemas.update(_answer_schemas())
    return schemas


def _batch(key: str, item: str, max_events: int) -> JSON:
    items = {"type": "array", "items": _ref(item), "minItems": 1, "maxItems": max_events}
    return {"type": "object", "required": [key], "properties": {key: items}}


def _answer_schemas() -> JSON:
    nullable_index = {"type": ["integer", "null"], "minimum": 0, "description": "the event's position; null: all"}
    error = {
        "type": "object",
        "required": ["index", "event_id", "field", "reason"],
        "properties": {
            "index": nullable_index,
            "event_id": {"type": ["string", "null"], "description": "the event's event_id when it is a string"},
            "field": {"type": "string", "description": "path of the offending value, or body, authorization, kafka"},
            "reason": {"type": "string", "description": "why, in plain words (never repeating the value)"},
        },
    }
    answer = {
        "type": "object",
        "required": ["accepted", "rejected", "errors"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0, "description": "events durable in Kafka"},
            "rejected": {"type": "integer", "minimum": 0, "description": "events refused (distinct indexes)"},
            "errors": {"type": "array", "items": _ref("ItemError")},
        },
        "examples": [ANSWER_EXAMPLE],
    }
    return {"ItemError": error, "IngestAnswer": answer}


def _body(batch: str, single: str | None, examples: JSON) -> JSON:
    schema = {"oneOf": [_ref(single), _ref(batch)]} if single else _ref(batch)
    return {"required": True, "content": {"application/json": {"schema": schema, "examples": examples}}}


def _answers(responses: JSON) -> None:
    for status, response in responses.items():
        response["content"] = {"application/json": {"schema": _ref("IngestAnswer")}}
        if status == "503":
            response["headers"] = {
                "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
            }


def _typed_examples(validators: Validators) -> dict[str, JSON]:
    """One event per type: the envelope's example of that type, else the envelope's example that names a lead
    with this type and the first example of the type's schema as properties (and an event_id of its own)."""
    envelopes: list[JSON] = list(validators.envelope_schema["examples"])
    template = next((e for e in envelopes if e.get("lead_id")), envelopes[0])
    examples: dict[str, JSON] = {}
    for event_type, schema in validators.type_schemas.items():
        own = next((e for e in envelopes if e["type"] == event_type), None)
        examples[event_type] = (
            copy.deepcopy(own)
            if own
            else {
                **copy.deepcopy(template),
                "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:stagetrack:example:{event_type}")),
                "type": event_type,
                "properties": copy.deepcopy(schema["examples"][0]),
            }
        )
    return examples


def _event_examples(validators: Validators) -> JSON:
    examples: JSON = {
        "batch": {"summary": "a batch", "value": {"events": copy.deepcopy(validators.envelope_schema["examples"])}}
    }
    for event_type, example in _typed_examples(validators).items():
        examples[event_type] = {"summary": f"one {event_type} event", "value": example}
    return examples


def _segment_examples(segment_call: Mapping[str, Any], call_type: str | None) -> JSON:
    calls = copy.deepcopy(segment_call["examples"])
    if call_type is None:
        return {"batch": {"summary": "a Segment batch", "value": {"batch": calls}}}
    of_type = [c for c in calls if c["type"] == call_type]
    return {f"{call_type}_{i}": {"summary": f"a `{call_type}` call", "value": c} for i, c in enumerate(of_type, 1)}
