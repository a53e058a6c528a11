"""Every STAGETRACK_ setting the services read, with its default as docs/deploy.md writes it: read from the
settings classes, so the page's tables can be checked against them (and rows for a new setting printed:
`.venv/bin/python -m tests.deploy.settings_reference`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from services.dispatch.app.settings import DispatchSettings
from services.ingest.app.settings import IngestSettings
from services.kpi.app.settings import KpiSettings
from services.stage_engine.app.settings import EngineSettings

SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "engine": EngineSettings,
    "kpi": KpiSettings,
    "dispatch": DispatchSettings,
}


def doc_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "development key"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value) if str(value) else "empty"


def settings() -> dict[str, tuple[str, list[str]]]:
    """variable -> (its default as written in the docs, the services that read it)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for service, settings_class in SERVICE_SETTINGS.items():
        for name, field in settings_class.model_fields.items():
            alias = field.validation_alias
            variable = alias if isinstance(alias, str) else f"STAGETRACK_{name.upper()}"
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            rendered, readers = found.get(variable, (doc_default(default), []))
            found[variable] = (rendered, [*readers, service])
    return found


if __name__ == "__main__":
    for variable, (default, readers) in settings().items():
        print(f"| `{variable}` | `{default}` | {', '.join(readers)} |")
