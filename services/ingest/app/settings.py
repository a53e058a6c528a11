"""Settings of the ingest service (env prefix STAGETRACK_; its port is STAGETRACK_INGEST_PORT)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    port: int = Field(default=8000, validation_alias="STAGETRACK_INGEST_PORT")
