"""Loading the subscriptions: YAML file -> JSON Schema (schemas/subscriptions.schema.json) -> the checks the
schema cannot make -> compiled `Subscriptions`. Every refusal is a `SubscriptionsError` naming the file, the
YAML line and the reason; a destination is named by its scheme, host and port only (a Slack URL's path is
its secret), and a secret never appears in a message.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

from services.common.resources import schemas_dir
from services.common.stage_model.yaml_source import YamlDocument, YamlSourceError, parse_yaml
from services.dispatch.domain.destinations import AllowList
from services.dispatch.domain.model_rules import ModelRules
from services.dispatch.domain.subscription_checks import Problem, compile_subscriptions
from services.dispatch.domain.subscriptions import Subscriptions

SCHEMA_PATH = schemas_dir() / "subscriptions.schema.json"


class SubscriptionsError(ValueError):
    def __init__(self, source: str, line: int | None, reason: str) -> None:
        super().__init__(f"{source}{f' line {line}' if line is not None else ''}: {reason}")
        self.line = line
        self.reason = reason


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def load_subscriptions(
    path: Path,
    rules: ModelRules,
    *,
    development: bool,
    allowed: AllowList,
    environ: Mapping[str, str] | None = None,
) -> Subscriptions:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubscriptionsError(source, None, f"cannot read the subscriptions file: {exc}") from exc
    try:
        document = parse_yaml(text)
    except YamlSourceError as exc:
        raise SubscriptionsError(source, exc.line, exc.reason) from exc
    _check_schema(source, document)
    env = os.environ if environ is None else environ
    try:
        return compile_subscriptions(document.data, rules, development=development, allowed=allowed, environ=env)
    except Problem as problem:
        raise SubscriptionsError(source, document.line_of(problem.path), problem.reason) from None


def _check_schema(source: str, document: YamlDocument) -> None:
    error = best_match(_validator().iter_errors(document.data))
    if error is None:
        return
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    where = _format_path(path) or "the file"
    schema = error.schema if isinstance(error.schema, dict) else {}
    reason = f"{where}: {error.message}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(str(k) for k in error.instance if k not in schema.get("properties", {}))
        if extra:
            allowed = ", ".join(sorted(schema.get("properties", {})))
            reason = f"{where}: unknown key {extra[0]!r} (allowed: {allowed})"
            path = (*path, extra[0])
    elif any(part in ("secret", "secret_env") for part in path):
        reason = f"{where}: not a valid value ({error.validator})"  # never quote a secret
    raise SubscriptionsError(source, document.line_of(path), reason)


def _format_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
