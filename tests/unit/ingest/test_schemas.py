"""The schema files: one per type, valid JSON Schema, examples that pass, loaded only when asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.common.envelope import EVENT_TYPES
from services.ingest.domain.schemas import SchemaFilesError, Validators, default_schemas_dir, load_validators
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import RECEIVED_AT, REQUIRED_PROPERTIES, accepted_properties, anonymous, event


def test_one_schema_per_event_type_and_the_envelope_lists_exactly_those_types(validators: Validators) -> None:
    files = sorted(p.name for p in (default_schemas_dir() / "events").iterdir())
    assert files == sorted(f"{t}.schema.json" for t in EVENT_TYPES)
    assert tuple(validators.envelope_schema["properties"]["type"]["enum"]) == EVENT_TYPES


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_required_properties_are_those_of_the_product_table(validators: Validators, event_type: str) -> None:
    required = validators.type_schemas[event_type].get("required", [])
    assert sorted(required) == sorted(REQUIRED_PROPERTIES.get(event_type, ()))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_schema_example_is_accepted_as_an_event(
    validator: EventValidator, validators: Validators, event_type: str
) -> None:
    examples = validators.type_schemas[event_type]["examples"]
    assert examples, "every schema carries an example (used for the OpenAPI docs)"
    for example in examples:
        accepted_properties(validator, event(event_type, properties=example))


def test_the_envelope_example_is_accepted(validator: EventValidator, validators: Validators) -> None:
    for example in validators.envelope_schema["examples"]:
        accepted_properties(validator, example)


def test_amount_and_currency_mean_the_same_in_every_schema(validators: Validators) -> None:
    amounts = {
        json.dumps(s["properties"]["amount"], sort_keys=True)
        for s in validators.type_schemas.values()
        if "amount" in s["properties"]
    }
    currencies = {
        json.dumps(s["properties"]["currency"], sort_keys=True)
        for s in validators.type_schemas.values()
        if "currency" in s["properties"]
    }
    assert len(amounts) == 1 and len(currencies) == 1
    assert validators.money_types == {
        "opportunity_created",
        "opportunity_won",
        "renewal_won",
        "upsell_won",
        "cross_sell_won",
    }


def test_every_shipped_schema_gets_the_fast_path(validators: Validators) -> None:
    """Valid events must not go through jsonschema's slow walk: each schema compiles to a fast check."""
    for compiled in (validators.envelope, *validators.by_type.values()):
        assert compiled.is_valid != compiled.validator.is_valid, compiled.schema["$id"]


def test_extra_properties_sent_by_trackers_are_kept(validator: EventValidator) -> None:
    props = accepted_properties(validator, anonymous("page_viewed", search="?q=crm", screen={"w": 1280}))
    assert props["search"] == "?q=crm" and props["screen"] == {"w": 1280}


def _copy_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), target)
    return target


def test_a_missing_type_schema_fails_at_start_up_naming_it(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    (schemas / "events" / "churned.schema.json").unlink()
    with pytest.raises(SchemaFilesError, match="missing \\['churned'\\]"):
        load_validators(schemas)


def test_an_invalid_schema_fails_at_start_up(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    (schemas / "events" / "churned.schema.json").write_text('{"type": "objekt"}')
    with pytest.raises(SchemaFilesError, match=r"churned\.schema\.json is not a valid JSON Schema"):
        load_validators(schemas)


def test_a_schema_edit_changes_validation_without_code_changes(tmp_path: Path) -> None:
    """The files are the source of truth: make `owner` required on lead_accepted and it is enforced."""
    schemas = _copy_schemas(tmp_path)
    path = schemas / "events" / "lead_accepted.schema.json"
    schema = json.loads(path.read_text())
    schema["required"] = ["owner"]
    path.write_text(json.dumps(schema))
    result = EventValidator(load_validators(schemas)).validate_batch(
        [event("lead_accepted", properties={})], source="crm", received_at=RECEIVED_AT
    )
    assert [(e.field, e.reason) for e in result.errors] == [("properties.owner", "is required")]
