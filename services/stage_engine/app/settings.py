"""Settings of the stage engine (env prefix STAGETRACK_; its port is STAGETRACK_ENGINE_PORT)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.personal.settings import PersonalDataSettings


class EngineSettings(PersonalDataSettings):
    port: int = Field(default=8001, validation_alias="STAGETRACK_ENGINE_PORT")
    consumer_group: str = "stagetrack-engine"
    # A deployment's own model file (YAML); None runs the shipped `the-model`.
    stage_model: Path | None = None
    max_batch_records: int = Field(default=500, ge=1, le=10_000)
    run_consumer: bool = True  # False: only the HTTP API (read side), e.g. for a second replica of the API
    # A batch waiting longer than this for a lock rolls back and is retried (docs/engine.md, "Lock waits"): a
    # safety net, so that a wait no one foresaw costs a retry instead of stopping the engine for good.
    lock_timeout_seconds: float = Field(default=10.0, gt=0)
