"""Settings of the kpi service (env prefix STAGETRACK_; its port is STAGETRACK_KPI_PORT)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class KpiSettings(ServiceSettings):
    port: int = Field(default=8002, validation_alias="STAGETRACK_KPI_PORT")
