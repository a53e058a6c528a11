"""The JSON Schemas under `schemas/` are the single source of truth for what an event may look like.

`load_validators` reads them once, at start-up (the app's bootstrap calls it; nothing is read at import time),
and compiles each file twice: a Draft 2020-12 validator that explains errors, and a fast yes/no check
(`fast_check`) for the hot path, where nearly every event is valid:

- `schemas/envelope.schema.json` validates the envelope (ids, type, occurred_at, properties is an object);
- `schemas/events/<type>.schema.json` validates the `properties` object of that type.

`schemas/segment-call.schema.json` only describes a Segment-spec call for the OpenAPI document (`read_schema`);
the Segment paths map calls with `segment.py` and validate the resulting envelopes as above.

The `date-time` format is checked by `timestamps.is_rfc3339` (an offset is mandatory). Subschemas may carry
two annotations that only shape error messages: `x-reason` (the plain-English reason used when a `pattern`,
`anyOf`, `oneOf` or `not` keyword of that subschema fails) and `x-field` (the field an `anyOf` failure names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from services.common.envelope import EVENT_TYPES
from services.common.resources import schemas_dir
from services.ingest.domain.check_source import Check
from services.ingest.domain.fast_check import compile_check
from services.ingest.domain.timestamps import is_rfc3339

Schema = Mapping[str, Any]


class SchemaFilesError(RuntimeError):
    """The schema folder is incomplete or holds an invalid schema (a deployment error, raised at start-up)."""


@dataclass(frozen=True)
class CompiledSchema:
    schema: Schema  # as read from the file (for OpenAPI: descriptions and examples)
    validator: Draft202012Validator  # explains what is wrong
    is_valid: Check  # the fast yes/no of the hot path (fast_check), same answers as validator.is_valid


@dataclass(frozen=True)
class Validators:
    envelope: CompiledSchema
    by_type: Mapping[str, CompiledSchema]  # validates the `properties` object of each type

    @property
    def envelope_schema(self) -> Schema:
        return self.envelope.schema

    @property
    def type_schemas(self) -> Mapping[str, Schema]:
        return {t: c.schema for t, c in self.by_type.items()}

    @property
    def money_types(self) -> frozenset[str]:
        """The types whose properties declare an `amount` (normalized by `money.MoneyPolicy`)."""
        return frozenset(t for t, c in self.by_type.items() if "amount" in c.schema.get("properties", {}))


def default_schemas_dir() -> Path:
    """The `schemas/` folder shipped in the package (services.common.resources)."""
    return schemas_dir()


_FORMATS = {"date-time": is_rfc3339}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in _FORMATS.items():
        checker.checks(name)(check)
    return checker


def read_schema(path: Path) -> Schema:
    """One schema file, checked against the Draft 2020-12 meta-schema."""
    try:
        schema: Schema = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SchemaFilesError(f"cannot read the schema {path}: {exc}") from exc
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaFilesError(f"{path} is not a valid JSON Schema: {exc.message}") from exc
    return schema


def _compile(path: Path, checker: FormatChecker) -> CompiledSchema:
    schema = read_schema(path)
    validator = Draft202012Validator(schema, format_checker=checker)
    return CompiledSchema(schema, validator, compile_check(schema, _FORMATS) or validator.is_valid)


def load_validators(schemas_dir: Path) -> Validators:
    """Reads and compiles every schema; one file per type in `EVENT_TYPES` must exist, and no other."""
    checker = _format_checker()
    envelope = _compile(schemas_dir / "envelope.schema.json", checker)
    declared = tuple(envelope.schema.get("properties", {}).get("type", {}).get("enum", ()))
    if declared != EVENT_TYPES:
        raise SchemaFilesError("envelope.schema.json's type enum differs from services.common.envelope.EVENT_TYPES")
    present = {p.name.removesuffix(".schema.json") for p in (schemas_dir / "events").glob("*.schema.json")}
    if present != set(EVENT_TYPES):
        missing, extra = sorted(set(EVENT_TYPES) - present), sorted(present - set(EVENT_TYPES))
        raise SchemaFilesError(f"schemas/events/ does not match EVENT_TYPES: missing {missing}, unknown {extra}")
    by_type = {t: _compile(schemas_dir / "events" / f"{t}.schema.json", checker) for t in EVENT_TYPES}
    return Validators(envelope=envelope, by_type=by_type)
