"""The `/v1/events` bodies of the OpenAPI document: what the ingest accepts, said in JSON Schema.

Built from the schema files (the single source of truth) plus what the deployment decides: the currencies
it takes (`reporting_currency` and the rate table) and, per currency, how many decimals an amount may have.
A body the document calls valid is accepted, and one it calls invalid is refused (schemathesis holds the two
to that: tests/integration/ingest/test_openapi_fuzz.py), except where JSON Schema cannot speak, which the
descriptions say in words: occurred_at within a window of the server's clock, no NUL character at any depth
of `properties`, the per-event size, and no personal data on anonymous events.

A batch is accepted (202) as soon as one of its events is valid; the others are refused one by one in
`errors`. So a batch's items are any JSON values, and it `contains` at least one valid event.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from services.common.lead_events.money import minor_unit
from services.common.limits import MAX_AMOUNT
from services.ingest.domain.schemas import Schema, Validators

JSON = dict[str, Any]
# The UTC offsets PostgreSQL's timestamptz stores: Z or ±00:00 to ±15:59.
OFFSET_PATTERN = "(?:[Zz]|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])$"
_AMOUNT_ABOVE = float(MAX_AMOUNT.to_integral_value() + 1)  # 10^16: every amount below it fits numeric(20,4)


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def component(schema: Schema) -> JSON:
    """A schema file as an OpenAPI 3.1 component: its own `$schema` and `$id` dropped (the document's apply)."""
    return {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("$schema", "$id")}


def envelope(validators: Validators) -> JSON:
    """The envelope file, with the offsets PostgreSQL stores as a pattern of occurred_at."""
    schema = component(validators.envelope_schema)
    occurred_at = schema["properties"]["occurred_at"]
    occurred_at["pattern"] = OFFSET_PATTERN
    return schema


# Python's `\s` (what the ingest's validators match) spelled out for any regex engine: ECMA-262's `\s`, which
# JSON Schema tools use, lacks U+001C to U+001F and U+0085 and adds U+FEFF.
PYTHON_WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def python_patterns(node: Any) -> Any:
    r"""Every `pattern` under `node` with `\s` spelled out as Python reads it (in place); returns `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                node[key] = _spelled_whitespace(value)
            else:
                python_patterns(value)
    elif isinstance(node, list):
        for item in node:
            python_patterns(item)
    return node


def _spelled_whitespace(pattern: str) -> str:
    out: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        char, following = pattern[i], pattern[i + 1 : i + 2]
        if char == "\\" and following:
            spelled = PYTHON_WHITESPACE if in_class else f"[{PYTHON_WHITESPACE}]"
            out.append(spelled if following == "s" else char + following)
            i += 2
            continue
        in_class = char != "]" if in_class else char == "["
        out.append(char)
        i += 1
    return "".join(out)


def any_case(word: str) -> str:
    """A pattern of `word` in any mix of upper and lower case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def has_required(schema: Schema) -> bool:
    return bool(schema.get("required"))


def properties_schemas(validators: Validators, currencies: Mapping[str, int]) -> JSON:
    """`Properties.<type>` for every type; the money types say which currencies and decimals are taken."""
    schemas: JSON = {}
    for event_type, schema in validators.type_schemas.items():
        presented = component(schema)
        if event_type in validators.money_types:
            _money(presented, currencies)
        schemas[f"Properties.{event_type}"] = presented
    return schemas


def accepted_currencies(reporting_currency: str, rates: Mapping[str, Decimal]) -> dict[str, int]:
    """Each currency an amount may be in, with the decimals it may carry (its ISO 4217 minor unit)."""
    return {code: minor_unit(code) for code in (reporting_currency, *(c.upper() for c in rates))}


def _money(schema: JSON, currencies: Mapping[str, int]) -> None:
    props = schema["properties"]
    codes = "|".join(any_case(code) for code in currencies)
    props["currency"] = {"allOf": [props["currency"], {"pattern": f"^(?:{codes})$"}]}
    if len(set(currencies.values())) == 1:  # one rule for every amount
        props["amount"] = {"allOf": [props["amount"], _amount_rule(next(iter(currencies.values())))]}
        return
    reporting, digits = next(iter(currencies.items()))
    rules: list[JSON] = [_when_currency(None, digits), _when_currency(reporting, digits)]
    rules += [_when_currency(code, places) for code, places in list(currencies.items())[1:]]
    schema["allOf"] = [*schema.get("allOf", []), *rules]


def _when_currency(code: str | None, places: int) -> JSON:
    """The amount rule of one currency (None: no currency named, so the reporting currency)."""
    named = (
        {"not": {"required": ["currency"]}}
        if code is None
        else {"required": ["currency"], "properties": {"currency": {"pattern": f"^{any_case(code)}$"}}}
    )
    return {"if": named, "then": {"properties": {"amount": _amount_rule(places)}}}


def _amount_rule(places: int) -> JSON:
    """At most `places` decimals that are not zero, and below 10^16 (numeric(20,4) of the KPI projections)."""
    decimals = r"(?:\.0+)?" if places == 0 else rf"(?:\.[0-9]{{1,{places}}}0*)?"
    rule: JSON = {"pattern": rf"^0*[0-9]{{1,16}}{decimals}$", "exclusiveMaximum": _AMOUNT_ABOVE}
    if places == 0:
        rule["multipleOf"] = 1
    return rule


def event_schemas(validators: Validators, examples: Mapping[str, JSON], max_events: int) -> JSON:
    """`Event.<type>` (the envelope with that type's properties), `Event` (one of them) and `EventBatch`."""
    schemas: JSON = {}
    for event_type, schema in validators.type_schemas.items():
        required = ["type", "properties"] if has_required(schema) else ["type"]
        schemas[f"Event.{event_type}"] = {
            "title": f"{event_type} event",
            "description": schema.get("description", ""),
            "allOf": [ref("Envelope")],
            "properties": {"type": {"const": event_type}, "properties": ref(f"Properties.{event_type}")},
            "required": required,
            "examples": [examples[event_type]],
        }
    schemas["Event"] = {
        "oneOf": [ref(f"Event.{t}") for t in validators.type_schemas],
        "discriminator": {"propertyName": "type", "mapping": {t: ref(f"Event.{t}")["$ref"] for t in examples}},
    }
    schemas["EventBatch"] = batch("events", "Event", max_events)
    return schemas


def batch(key: str, item: str, max_events: int) -> JSON:
    """`{key: [...]}`: accepted when at least one item is valid; the invalid ones are listed in `errors`."""
    items = {
        "type": "array",
        "minItems": 1,
        "maxItems": max_events,
        "items": {"description": f"one {item}; an invalid one is refused alone, listed by its index in `errors`"},
        "contains": ref(item),
    }
    return {"type": "object", "required": [key], "properties": {key: items}}
