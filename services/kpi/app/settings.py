"""Settings of the KPI service (env prefix STAGETRACK_; its port is STAGETRACK_KPI_PORT)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from services.common.settings import ServiceSettings


class KpiSettings(ServiceSettings):
    port: int = Field(default=8002, validation_alias="STAGETRACK_KPI_PORT")
    # The same model file as the engine's (STAGETRACK_STAGE_MODEL); None: the shipped `the-model`.
    stage_model: Path | None = None
    # Days (daily series, periods given as dates) are days in this zone.
    reporting_timezone: str = "UTC"
    reporting_currency: str = Field(default="JPY", pattern="^[A-Z]{3}$")
    # The Prometheus collector reads the projections at scrape time, at most once per this many seconds.
    metrics_cache_seconds: float = Field(default=5.0, ge=0)

    @field_validator("reporting_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Tokyo") from exc
        return value
