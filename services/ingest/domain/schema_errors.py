"""Turns jsonschema's errors into `Problem`s: one per failure, the field named, the reason in plain words.

Reasons never repeat the offending value (it may be personal data, and responses end up in logs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema.exceptions import ValidationError

from services.ingest.domain.problems import Problem, field_path
from services.ingest.domain.timestamps import lacks_offset

_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "an array",
    "null": "null",
}
_BOUNDS = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be more than {}",
    "exclusiveMaximum": "must be less than {}",
    "maxLength": "must be at most {} characters long",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
}
_SHAPES = ("pattern", "anyOf", "oneOf", "not")  # failures whose reason a subschema's `x-reason` may give
_OFFSET_EXAMPLE = "e.g. 2024-05-01T09:30:00+09:00 or 2024-05-01T00:30:00Z"


def schema_problems(errors: Iterable[ValidationError], prefix: tuple[str, ...] = ()) -> list[Problem]:
    """Every error as its own Problem, ordered by field; `prefix` is where the validated instance sits."""
    problems: list[Problem] = []
    summaries: list[Problem] = []  # an `x-field` summary ("anonymous_id or lead_id is required")
    for error in errors:
        path = (*prefix, *error.absolute_path)
        summary = error.validator in _SHAPES and isinstance(error.schema, dict) and "x-field" in error.schema
        target = summaries if summary else problems
        target.extend(p for p in _translate(error, path) if p not in target)
    named = {p.field for p in problems}  # a summary adds nothing when its field's own problem is reported
    return sorted(problems + [p for p in summaries if p.field not in named], key=lambda p: p.field)


def _translate(error: ValidationError, path: tuple[str | int, ...]) -> Iterator[Problem]:
    keyword = str(error.validator)
    expected: Any = error.validator_value
    schema: Any = error.schema
    instance: Any = error.instance
    if keyword == "required":
        # one error per missing name; `schema_problems` drops the repeats this yields for the later ones
        for name in expected:
            if isinstance(instance, dict) and name not in instance:
                yield Problem(field_path((*path, name)), "is required")
    elif keyword == "additionalProperties":
        known = set(schema.get("properties", {}) if isinstance(schema, dict) else ())
        reason = "is not an envelope field (custom data goes under properties)" if not path else "is not allowed here"
        for name in instance if isinstance(instance, dict) else ():
            if name not in known:
                yield Problem(field_path((*path, name)), reason)
    else:
        yield Problem(_field(error, path), _reason(keyword, expected, schema, instance))


def _field(error: ValidationError, path: tuple[str | int, ...]) -> str:
    extra = error.schema.get("x-field") if isinstance(error.schema, dict) else None
    if error.validator in _SHAPES and isinstance(extra, str):
        return field_path((*path, extra))
    return field_path(path)


def _reason(keyword: str, expected: Any, schema: Any, instance: Any) -> str:
    if keyword in _SHAPES and isinstance(schema, dict) and isinstance(schema.get("x-reason"), str):
        return str(schema["x-reason"])
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return "must be " + " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    if keyword == "enum":
        return "must be one of: " + ", ".join(_show(v) for v in expected)
    if keyword == "const":
        return f"must be {_show(expected)}"
    if keyword in _BOUNDS:
        return _BOUNDS[keyword].format(expected)
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters long"
    if keyword == "format" and expected == "date-time":
        if isinstance(instance, str) and lacks_offset(instance):
            return f"has no UTC offset: send an RFC 3339 timestamp with one, {_OFFSET_EXAMPLE}"
        return f"must be an RFC 3339 timestamp with a UTC offset, {_OFFSET_EXAMPLE}"
    if keyword == "pattern":
        return f"must match the pattern {expected}"
    if keyword in ("anyOf", "oneOf"):
        return "does not match any of the allowed forms"
    return f"is not valid (breaks the schema's {keyword} rule)"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
