"""Loading a stage model: YAML text -> JSON Schema -> cross-reference checks -> compiled `StageModel`.

The version is the sha256 of the model's canonical form (the parsed YAML as sorted compact JSON), so
comments and layout do not change it and any change of meaning does. The reporting currency is a
deployment setting, not part of the model, and not part of the version. Every refusal is a `ModelError`
naming the source, the YAML line and the reason.
"""

from __future__ import annotations

import functools
from pathlib import Path

from services.common.resources import shipped_path
from services.common.stage_model.model_build import build_model
from services.common.stage_model.model_types import (
    ModelError,
    ScoringRule,
    Sla,
    Stage,
    StageModel,
    Transition,
)

__all__ = [
    "DEFAULT_MODEL_PATH",
    "ModelError",
    "ScoringRule",
    "Sla",
    "Stage",
    "StageModel",
    "Transition",
    "default_model",
    "load_model",
    "load_model_file",
]

DEFAULT_MODEL_PATH = shipped_path("services.common.stage_model", "the-model.yaml")


def load_model(text: str, *, source: str = "<stage model>", currency: str = "JPY") -> StageModel:
    """Validate and compile a model from YAML text; raises `ModelError` naming the line and the reason."""
    return build_model(text, source=source, currency=currency)


def load_model_file(path: str | Path, *, currency: str = "JPY") -> StageModel:
    """The only I/O of the domain: read the file the deployment points STAGETRACK_STAGE_MODEL at."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(str(path), None, f"cannot read the model file: {exc}") from exc
    return load_model(text, source=str(path), currency=currency)


def model_or_default(path: Path | None) -> StageModel:
    """A deployment's model file (its `stage_model` setting), or the shipped one when it names none."""
    return load_model_file(path) if path else default_model()


@functools.cache
def default_model() -> StageModel:
    """`the-model`, shipped beside this module (PRODUCT.md "The default stage model")."""
    return load_model_file(DEFAULT_MODEL_PATH)
