"""/openapi.json is a valid OpenAPI 3.1 document whose bodies come from the schema files, with working examples."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from services.common.envelope import EVENT_TYPES
from services.ingest.api.errors import error_body
from services.ingest.api.segment import CALL_TYPES
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings
from services.ingest.domain.segment import map_segment_call
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import check

SEGMENT_PATHS = ["/v1/batch", *(f"/v1/{t}" for t in CALL_TYPES)]


async def _get(path: str) -> httpx.Response:
    """The app over ASGI without its lifespan: building the document needs neither Kafka nor PostgreSQL."""
    app = create_app(IngestSettings(max_events_per_request=500))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        return await client.get(path)


@pytest.fixture(scope="module")
async def document() -> dict[str, Any]:
    response = await _get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of `schema` whose `#/components/...` references resolve inside the document."""
    return Draft202012Validator({**schema, "components": document["components"]})


def _body(document: dict[str, Any], path: str) -> dict[str, Any]:
    return dict(document["paths"][path]["post"]["requestBody"]["content"]["application/json"])


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_ingest_route_documents_its_body_answers_and_security(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert (schemes["bearerKey"]["scheme"], schemes["writeKey"]["scheme"]) == ("bearer", "basic")
    for path in ["/v1/events", *SEGMENT_PATHS]:
        operation = document["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        assert operation["security"] == [{"bearerKey": []}, {"writeKey": []}]
        for response in operation["responses"].values():
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IngestAnswer"}
        assert "Retry-After" in operation["responses"]["503"]["headers"]


def test_the_event_schemas_are_the_schema_files(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Envelope"]["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert schemas["Properties.page_viewed"]["required"] == ["path"]
    assert len(schemas["Event"]["oneOf"]) == len(EVENT_TYPES)
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == 500  # the configured limit


def test_posting_events_has_an_example_per_type_and_a_batch_each_accepted(
    document: dict[str, Any], validator: EventValidator
) -> None:
    body = _body(document, "/v1/events")
    examples = {name: e["value"] for name, e in body["examples"].items()}
    assert set(examples) == {*EVENT_TYPES, "batch"}
    schema = _validator(document, body["schema"])
    for name, value in examples.items():
        assert not list(schema.iter_errors(value)), name
        items = value["events"] if name == "batch" else [value]
        result = check(validator, *items)
        assert result.errors == [] and len(result.accepted) == len(items), name
    assert len({e["event_id"] for e in examples.values() if "event_id" in e}) == len(EVENT_TYPES)


@pytest.mark.parametrize("path", SEGMENT_PATHS)
def test_segment_paths_have_examples_that_map_to_accepted_events(
    document: dict[str, Any], validator: EventValidator, path: str
) -> None:
    body = _body(document, path)
    schema = _validator(document, body["schema"])
    path_type = None if path == "/v1/batch" else path.removeprefix("/v1/")
    assert body["examples"]
    for example in body["examples"].values():
        value = example["value"]
        assert not list(schema.iter_errors(value))
        calls = value["batch"] if path_type is None else [value]
        result = check(validator, *(map_segment_call(c, path_type=path_type) for c in calls))
        assert result.errors == [] and len(result.accepted) == len(calls)


def test_the_answer_schema_describes_what_the_routes_send(document: dict[str, Any]) -> None:
    answer = _validator(document, {"$ref": "#/components/schemas/IngestAnswer"})
    refused = {"index": None, "event_id": None, "field": "authorization", "reason": "no API key"}
    example = document["components"]["schemas"]["IngestAnswer"]["examples"][0]
    for sent in (error_body(3, []), error_body(0, [refused]), example):
        assert not list(answer.iter_errors(sent))


async def test_docs_page_is_served() -> None:
    response = await _get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
