"""Settings shared by every service; each service subclasses `ServiceSettings` in its bootstrap."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_URL = "postgresql+asyncpg://stagetrack@127.0.0.1:55432/stagetrack"


class ServiceSettings(BaseSettings):
    """What every service needs: where Kafka and PostgreSQL are, and the topic names.

    Defaults point at the local stack started by `make up` (deploy/local/).
    """

    model_config = SettingsConfigDict(env_prefix="STAGETRACK_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    database_url: str = LOCAL_DATABASE_URL
    database_schema: str = "public"
    events_topic: str = "stagetrack.events"
    lead_events_topic: str = "stagetrack.lead-events"
    dead_letter_topic: str = "stagetrack.dead-letter"
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    host: str = "127.0.0.1"
    port: int = 8000
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    log_level: str = "INFO"
    # A background loop (engine consumer, KPI projector) that has not advanced for this long while work waits
    # is reported stalled: /readyz 503 naming it, stagetrack_loop_stalled 1 (services/common/loop_health.py).
    stall_after_seconds: float = Field(default=120.0, gt=0)
    # After this many events set aside in a row the loop stops and says so (a bug, not bad data, is likelier).
    set_aside_brake_run: int = Field(default=100, ge=1)
    # A failure repeated identically is logged once per this many seconds, with a count.
    failure_log_interval_seconds: float = Field(default=60.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_only(cls, value: str) -> str:
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("database_url must use the asyncpg driver: postgresql+asyncpg://user@host:port/db")
        return value

    @property
    def topics(self) -> list[str]:
        return [self.events_topic, self.lead_events_topic, self.dead_letter_topic]
