"""The ingest's OpenAPI document (/openapi.json, /docs), its bodies taken from the JSON Schemas under schemas/.

The routes read the raw body themselves (size limits, gzip, per-item errors), so FastAPI sees no request
model. `install_openapi` completes FastAPI's generated document with the schema files, the single source of
truth, as components (openapi_events.py, openapi_segment.py): `Envelope`, `Properties.<type>`, `Event.<type>`,
`Event`, `EventBatch`, `SegmentCall.<call type>`, `SegmentBatch.<call type>`, `SegmentBatchItem`,
`SegmentBatch`; the request bodies, with the examples of the schema files; the answer (`IngestAnswer`) on
every status, `Retry-After` on every 503; the security schemes (Bearer key, or the key as the HTTP Basic user,
as Segment's write key). The document says what the ingest does: schemathesis checks the one against the
other in tests/integration/ingest/test_openapi_fuzz.py.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.ingest.api.openapi_events import (
    accepted_currencies,
    component,
    envelope,
    event_schemas,
    properties_schemas,
    python_patterns,
    ref,
)
from services.ingest.api.openapi_segment import SegmentSchemas
from services.ingest.api.segment import CALL_TYPES
from services.ingest.app.settings import IngestSettings
from services.ingest.domain.schemas import Schema, Validators

JSON = dict[str, Any]
DESCRIPTION = (
    'Send events as `POST /v1/events` (one event or `{"events": [...]}`), or as Segment-spec calls on '
    "`/v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/alias`, `/v1/group` (analytics.js "
    "also posts to `/v1/b` and `/v1/t`, `/v1/i`, `/v1/p`, `/v1/s`, `/v1/a`, `/v1/g`: the same routes). Bodies "
    "may be gzipped (`Content-Encoding: gzip`), and are read as JSON whatever their Content-Type (analytics.js "
    "sends text/plain). Authenticate with `Authorization: Bearer KEY`, or with the key as the HTTP Basic user "
    "name (Segment's write key); on the Segment paths without that header, with `writeKey` in the body. A "
    "request with an `Origin` header (a browser) is served only at an origin the key lists. A 2xx means every "
    "event not listed in `errors` is durable in Kafka."
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
UNAVAILABLE = (
    "Nothing was stored, or not known to be: Kafka did not acknowledge (unreachable, failed, or not within "
    "`kafka_send_timeout_seconds`), PostgreSQL could not be asked about the key, or the request overran "
    "`request_timeout_seconds`. `errors[0].field` names which (kafka, postgres, request) and the reason how long "
    "the ingest waited. Retry after `Retry-After` seconds with the same event ids: an id is stored once."
)
RETRY_AFTER = {"description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}


def install_openapi(app: FastAPI, validators: Validators, segment_call: Schema, settings: IngestSettings) -> None:
    """Replaces `app.openapi`: the document is built once, on first request, from FastAPI's and the schemas."""

    def openapi() -> JSON:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
            app.openapi_schema = complete(document, validators, segment_call, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: JSON, validators: Validators, segment_call: Schema, settings: IngestSettings) -> JSON:
    """FastAPI's document with the components, request bodies, answers and security of the ingest routes."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(_schemas(validators, segment_call, settings))
    components["securitySchemes"] = SECURITY_SCHEMES
    bodies = {
        "/v1/events": _body({"anyOf": [ref("Event"), ref("EventBatch")]}, _event_examples(validators)),
        "/v1/batch": _body(ref("SegmentBatch"), _segment_examples(segment_call, None)),
        **{f"/v1/{t}": _body(_single_call(t), _segment_examples(segment_call, t)) for t in CALL_TYPES},
    }
    for path, body in bodies.items():
        operation = document["paths"][path]["post"]
        operation["requestBody"] = body
        operation["security"] = SECURITY
        _answers(operation["responses"])
    _readiness(document["paths"]["/readyz"]["get"]["responses"])
    for methods in document["paths"].values():
        for method, operation in methods.items():
            _guarded(operation["responses"], with_body=method != "get")
    python_patterns(components["schemas"])  # the patterns as the ingest's validators (Python's re) read them
    return document


def _schemas(validators: Validators, segment_call: Schema, settings: IngestSettings) -> JSON:
    currencies = accepted_currencies(settings.reporting_currency, settings.currency_rates)
    schemas: JSON = {"Envelope": envelope(validators)}
    schemas.update(properties_schemas(validators, currencies))
    schemas.update(event_schemas(validators, _typed_examples(validators), settings.max_events_per_request))
    segment = SegmentSchemas(schemas["Envelope"], segment_call, validators.type_schemas)
    schemas.update(segment.components(settings.max_events_per_request))
    schemas["SegmentCall"] = component(segment_call)  # the raw call, for reference
    schemas.update(_answer_schemas())
    return schemas


def _single_call(call_type: str) -> JSON:
    """A single-call path takes one call, or `{"batch": [...]}` of them (so a body with a `batch` key is read as
    a batch: said in words, as excluding it in the schema is more than schemathesis' generator can handle)."""
    return {"anyOf": [ref(f"SegmentCall.{call_type}"), ref(f"SegmentBatch.{call_type}")]}


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
            "errors": {"type": "array", "items": ref("ItemError")},
        },
        "examples": [ANSWER_EXAMPLE],
    }
    return {"ItemError": error, "IngestAnswer": answer}


def _body(schema: JSON, examples: JSON) -> JSON:
    return {"required": True, "content": {"application/json": {"schema": schema, "examples": examples}}}


def _answers(responses: JSON) -> None:
    """Every status answers `IngestAnswer`; every route may answer 503 (Kafka, PostgreSQL, the deadline)."""
    responses.setdefault("503", {})["description"] = UNAVAILABLE
    for status, response in responses.items():
        response["content"] = {"application/json": {"schema": ref("IngestAnswer")}}
        if status == "503":
            response["headers"] = {"Retry-After": RETRY_AFTER}


def _guarded(responses: JSON, *, with_body: bool) -> None:
    """What the client guard in front of every route answers (services/common/client_guard.py): 429 after too
    many failed authentications from the address or with the key, 408 for a body that came too late."""
    answer = {"application/json": {"schema": ref("IngestAnswer")}}
    responses["429"] = {
        "description": "Too many failed authentications from this address or with this key: wait `Retry-After`",
        "headers": {"Retry-After": RETRY_AFTER},
        "content": answer,
    }
    if with_body:
        responses["408"] = {"description": "The body did not arrive in time; nothing was read", "content": answer}


def _readiness(responses: JSON) -> None:
    """/readyz answers 503 with the same body when a dependency does not answer (services.common.http)."""
    responses["503"] = {"description": "A dependency did not answer; `checks` says which and why"}
    responses["503"]["content"] = copy.deepcopy(responses["200"]["content"])


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
