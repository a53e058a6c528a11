"""Settings of the stage_engine service (env prefix STAGETRACK_; its port is STAGETRACK_ENGINE_PORT)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class EngineSettings(ServiceSettings):
    port: int = Field(default=8001, validation_alias="STAGETRACK_ENGINE_PORT")
