"""Settings refuse what would break at run time and read the STAGETRACK_ environment."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from services.common.settings import ServiceSettings
from services.ingest.app.settings import IngestSettings
from services.kpi.app.settings import KpiSettings
from services.stage_engine.app.settings import EngineSettings


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("STAGETRACK_")]:
        monkeypatch.delenv(name)  # the defaults, not a developer's or a second stack's overrides
    settings = ServiceSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert "127.0.0.1:55432" in settings.database_url
    assert (IngestSettings().port, EngineSettings().port, KpiSettings().port) == (8000, 8001, 8002)


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGETRACK_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("STAGETRACK_KPI_PORT", "9002")
    assert ServiceSettings().kafka_bootstrap_servers == "kafka:9092"
    assert KpiSettings().port == 9002


def test_a_database_url_without_asyncpg_is_refused() -> None:
    with pytest.raises(ValidationError, match="asyncpg"):
        ServiceSettings(database_url="postgresql://u@h/db")
