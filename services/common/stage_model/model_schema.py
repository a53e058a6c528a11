"""JSON Schema validation of a stage model (schemas/stage-model.schema.json), reported at a data path."""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from services.common.resources import schemas_dir
from services.common.stage_model.model_types import ModelIssue

SCHEMA_PATH = schemas_dir() / "stage-model.schema.json"


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def validate_against_schema(data: Any) -> None:
    """Raise `ModelIssue` for the most relevant schema violation (jsonschema's `best_match`)."""
    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    path = tuple(error.absolute_path)
    reason = _explain(error, path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _extra_keys(error)
        path = (*path, extra[0]) if extra else path  # point at the offending key's line
    raise ModelIssue(path, reason)


def _explain(error: ValidationError, path: tuple[str | int, ...]) -> str:
    where = format_path(path) or "the model"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(schema.get("properties", {}))
        extra = _extra_keys(error)
        if extra and allowed:
            return f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator == "pattern" and str(schema.get("pattern", "")).endswith("[smhdw]$"):
        return f"{where}: {error.instance!r} is not a duration like 30m, 24h, 14d or 2w"
    return f"{where}: {error.message}"


def _extra_keys(error: ValidationError) -> list[str]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = set(schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    return sorted(str(key) for key in instance if key not in allowed)


def format_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
