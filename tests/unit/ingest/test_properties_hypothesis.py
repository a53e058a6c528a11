"""Property tests: the fast path agrees with jsonschema; validation is total; money is exact."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from services.common.envelope import EVENT_TYPES
from services.common.limits import MAX_AMOUNT, MAX_UTC_OFFSET
from services.ingest.domain.fast_check import compile_check, compile_closures
from services.ingest.domain.schemas import Validators, default_schemas_dir, load_validators
from services.ingest.domain.segment import map_segment_call
from services.ingest.domain.timestamps import is_rfc3339
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import RECEIVED_AT, VALID_PROPERTIES

VALIDATORS: Validators = load_validators(default_schemas_dir())  # hypothesis tests cannot use function fixtures
SCHEMA_NAMES = ["envelope", *EVENT_TYPES]

tricky_strings = st.sampled_from(
    [
        "",
        "/",
        "/pricing",
        "pricing",
        "a@b.co",
        "2024-05-01T09:30:00Z",
        "2024-05-01T09:30:00",
        "x" * 129,
        "normal",
        "high",
        "lead",
        "marketing",
        "USD",
        "usd",
        "12.50",
        "-1",
        "1e3",
        "page_viewed",
        "tracked",
        "\x00",
        "id\x00",
        "id\n",
        "\tid",
        "\x7f",
        "\x85",
        "\u2028",
        "\\u0000",
        "2024-05-01T09:30:00+16:00",
        "0001-01-01T00:00:00Z",
        "9999999999999999",
        "10000000000000000",
    ]
)
scalars = st.none() | st.booleans() | st.integers(-10, 200) | st.floats() | st.text(max_size=8) | tricky_strings
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _keys(schema: Any) -> list[str]:
    return [*sorted(schema.get("properties", {})), "extra", "name", "email"]


@st.composite
def instance_for(draw: st.DrawFn, name: str) -> Any:
    """Mostly objects using the schema's own keys (to reach every keyword), sometimes any JSON value."""
    schema = VALIDATORS.envelope.schema if name == "envelope" else VALIDATORS.by_type[name].schema
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    keys = draw(st.lists(st.sampled_from(_keys(schema)), max_size=6, unique=True))
    return {k: draw(json_values) for k in keys}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(SCHEMA_NAMES))
def test_the_fast_check_answers_exactly_as_jsonschema(data: st.DataObject, name: str) -> None:
    compiled = VALIDATORS.envelope if name == "envelope" else VALIDATORS.by_type[name]
    instance = data.draw(instance_for(name))
    closures = compile_closures(compiled.schema, {"date-time": is_rfc3339})
    assert closures is not None
    assert compiled.is_valid(instance) == closures(instance) == compiled.validator.is_valid(instance), instance


NESTED = {
    "type": "object",
    "properties": {
        "a": {
            "properties": {
                "b": {
                    "type": "object",
                    "required": ["c"],
                    "properties": {"c": {"type": ["integer", "null"], "minimum": 1}},
                }
            },
            "anyOf": [{"required": ["b"]}, {"type": "array"}],
        },
        "b": {"not": {"enum": ["x"]}, "maxLength": 2},
    },
    "additionalProperties": {"properties": {"c": {"type": "string"}}, "additionalProperties": False},
}
nested_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcx"), inner, max_size=3)
)


@given(instance=nested_values)
def test_the_fast_check_of_nested_objects_answers_as_jsonschema(instance: Any) -> None:
    fast, closures = compile_check(NESTED, {}), compile_closures(NESTED, {})
    assert fast is not None and closures is not None
    assert fast(instance) == closures(instance) == Draft202012Validator(NESTED).is_valid(instance), instance


@given(instance=json_values)
def test_the_fast_check_of_combinators_answers_as_jsonschema(instance: Any) -> None:
    schema = {
        "oneOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "number", "exclusiveMaximum": 10}],
        "not": {"type": "boolean"},
        "allOf": [{"additionalProperties": {"type": "string"}}],
    }
    fast, closures = compile_check(schema, {"date-time": is_rfc3339}), compile_closures(schema, {})
    assert fast is not None and closures is not None
    assert fast(instance) == closures(instance) == Draft202012Validator(schema).is_valid(instance)


def test_an_unknown_keyword_falls_back_to_jsonschema() -> None:
    assert compile_check({"type": "array", "items": {"type": "string"}}, {}) is None


def _envelopes() -> st.SearchStrategy[Any]:
    valid = st.builds(
        lambda t, ids, ts, props: {"event_id": "e", "type": t, "occurred_at": ts, **ids, "properties": props},
        st.sampled_from(EVENT_TYPES),
        st.sampled_from(
            [{"lead_id": "l"}, {"anonymous_id": "a"}, {}, {"lead_id": None, "anonymous_id": "a"}, {"lead_id": "l\x00"}]
        ),
        st.sampled_from(
            [
                "2024-05-01T09:30:00+09:00",
                "2024-05-01T09:30:00",
                "soon",
                "2024-05-01T09:30:00-23:59",
                "9999-12-31T23:59:59-05:00",
                "0001-01-01T00:00:00+09:00",
            ]
        ),
        st.dictionaries(
            st.sampled_from(["path", "name", "amount", "currency", "email", "opportunity_id"]), json_values
        ),
    )
    return valid | json_values


@settings(max_examples=200)
@given(items=st.lists(_envelopes(), max_size=6))
def test_validation_never_raises_and_judges_every_item_exactly_once(items: list[Any]) -> None:
    result = EventValidator(VALIDATORS).validate_batch(items, source="p", received_at=RECEIVED_AT)
    accepted = [i for i, _ in result.accepted]
    refused = sorted({e.index for e in result.errors})
    assert sorted(accepted + refused) == list(range(len(items)))
    for error in result.errors:
        assert error.reason and isinstance(error.field, str)
    for _, event in result.accepted:
        if "amount" in event.properties and event.type in VALIDATORS.money_types:
            assert isinstance(event.properties["amount"], str) and event.properties["currency"] == "JPY"
            assert Decimal(event.properties["amount"]) <= MAX_AMOUNT
        assert "\x00" not in orjson.dumps(event.properties).decode()  # storable: never a NUL
        assert not any("\x00" in (i or "") for i in (event.event_id, event.lead_id, event.anonymous_id))
        assert abs(event.occurred_at.utcoffset() or timedelta(0)) <= MAX_UTC_OFFSET


@given(
    cents=st.integers(min_value=0, max_value=10**15),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=4),
)
def test_conversion_is_exact_half_even_rounding_of_amount_times_rate(cents: int, rate: Decimal) -> None:
    usd = Decimal(cents).scaleb(-2)
    validator = EventValidator(VALIDATORS, rates={"USD": rate})
    item = {
        "event_id": "e",
        "type": "renewal_won",
        "occurred_at": "2024-05-01T00:00:00Z",
        "lead_id": "l",
        "properties": {"amount": str(usd), "currency": "USD"},
    }
    result = validator.validate_batch([item], source="p", received_at=RECEIVED_AT)
    expected = (usd * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if expected > MAX_AMOUNT:  # the KPI's numeric(20,4) could not hold it
        assert [(e.field, e.reason.endswith("once converted to JPY")) for e in result.errors] == [
            ("properties.amount", True)
        ]
        return
    [(_, event)] = result.accepted
    assert event.properties["amount"] == str(expected)
    assert Decimal(event.properties["original_amount"]) == usd


@given(
    event_type=st.sampled_from([t for t in EVENT_TYPES if t != "tracked"]),
    separator=st.sampled_from([" ", "_", "-", "  "]),
    title=st.booleans(),
)
def test_any_spelling_of_a_type_name_in_a_track_call_maps_to_it(event_type: str, separator: str, title: bool) -> None:
    words = event_type.split("_")
    name = separator.join(w.title() if title else w for w in words)
    envelope = map_segment_call(
        {"event": name, "messageId": "m", "properties": VALID_PROPERTIES[event_type]}, path_type="track"
    )
    assert envelope["type"] == event_type


@given(instance=st.none() | st.integers() | st.text(alphabet=st.characters(max_codepoint=0xA0), max_size=6))
def test_the_fast_check_of_a_forbidden_pattern_answers_as_jsonschema(instance: Any) -> None:
    for schema in (
        {"type": ["string", "null"], "maxLength": 4, "not": {"type": "string", "pattern": "[\\u0000-\\u001F]"}},
        {"type": "string", "not": {"type": "string", "pattern": "^a", "description": "an annotation"}},
    ):
        fast = compile_check(schema, {})
        assert fast is not None
        assert fast(instance) == Draft202012Validator(schema).is_valid(instance), (schema, instance)
