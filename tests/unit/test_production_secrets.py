"""Outside development every service refuses development and placeholder secrets, naming the setting."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError

from services.common.personal.settings import DEVELOPMENT_MASTER_KEY
from services.common.settings import ServiceSettings
from services.ingest.app.settings import IngestSettings
from services.kpi.app.settings import KpiSettings
from services.stage_engine.app.settings import EngineSettings
from tests.personal import OWN_MASTER_KEY, PRODUCTION_PERSONAL, PRODUCTION_PERSONAL_ENV

OWN_DATABASE = "postgresql+asyncpg://stagetrack:Zq8-generated-password@db.internal:5432/stagetrack"
OWN_KEY = SecretStr("k3y-of-this-deployment-0f1e2d3c4b5a")


@pytest.fixture(autouse=True)
def no_stagetrack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("STAGETRACK_")]:
        monkeypatch.delenv(name)


def test_development_accepts_the_development_defaults() -> None:
    assert EngineSettings().environment == "development"
    IngestSettings(hubspot_app_secret=SecretStr("changeme"))
    KpiSettings()


def test_the_environment_is_one_setting_shared_by_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGETRACK_ENVIRONMENT", "production")
    monkeypatch.setenv("STAGETRACK_DATABASE_URL", OWN_DATABASE)
    for name, value in PRODUCTION_PERSONAL_ENV.items():
        monkeypatch.setenv(name, value)
    for settings in (IngestSettings(), EngineSettings(), KpiSettings()):
        assert settings.environment == "production"


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(ValidationError, match="development"):
        ServiceSettings(environment="staging")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["stagetrack-local-development-only", "", "changeme", " Secret "])
def test_the_engine_refuses_the_development_identity_hash_key(key: str) -> None:
    with pytest.raises(ValidationError, match="STAGETRACK_IDENTITY_HASH_KEY is the development key or a placeholder"):
        EngineSettings(environment="production", database_url=OWN_DATABASE, identity_hash_key=SecretStr(key))


def test_the_engine_starts_in_production_with_keys_of_its_own() -> None:
    EngineSettings(environment="production", database_url=OWN_DATABASE, **PRODUCTION_PERSONAL)  # type: ignore[arg-type]


def test_the_ingest_and_the_engine_refuse_the_development_master_key() -> None:
    own = {**PRODUCTION_PERSONAL, "master_keys": {"development": SecretStr(DEVELOPMENT_MASTER_KEY)}}
    for settings_class in (IngestSettings, EngineSettings):
        with pytest.raises(ValidationError, match="STAGETRACK_MASTER_KEYS holds the development master key"):
            settings_class(
                environment="production",
                database_url=OWN_DATABASE,
                master_key_id="development",
                **{k: v for k, v in own.items() if k != "master_key_id"},
            )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keys", "current", "reason"),
    [
        ({"a": "bm90IDMyIGJ5dGVz"}, "a", "key 'a' is not 32 bytes"),
        ({"a": "***"}, "a", "key 'a' is not base64"),
        ({"a": OWN_MASTER_KEY}, "b", "STAGETRACK_MASTER_KEY_ID 'b' is not in STAGETRACK_MASTER_KEYS"),
    ],
)
def test_master_keys_that_cannot_wrap_are_refused_at_start(keys: dict[str, str], current: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as refused:
        IngestSettings(master_keys=keys, master_key_id=current)  # type: ignore[arg-type]
    assert OWN_MASTER_KEY not in str(refused.value)


@pytest.mark.parametrize("secret", ["", "placeholder", "TODO"])
def test_the_ingest_refuses_a_placeholder_hubspot_secret_when_the_connector_is_configured(secret: str) -> None:
    with pytest.raises(ValidationError, match="STAGETRACK_HUBSPOT_APP_SECRET is empty or a placeholder"):
        IngestSettings(environment="production", database_url=OWN_DATABASE, hubspot_app_secret=SecretStr(secret))


def test_a_refusal_never_repeats_the_secret() -> None:
    url = "postgresql+asyncpg://stagetrack:changeme@db.internal:5432/stagetrack"
    with pytest.raises(ValidationError) as refused:
        EngineSettings(environment="production", database_url=url, identity_hash_key=SecretStr("changeme"))
    assert "changeme" not in str(refused.value)


def test_the_ingest_starts_in_production_without_connectors_or_with_a_real_secret() -> None:
    IngestSettings(environment="production", database_url=OWN_DATABASE, **PRODUCTION_PERSONAL)  # type: ignore[arg-type]
    IngestSettings(
        environment="production",
        database_url=OWN_DATABASE,
        hubspot_app_secret=SecretStr("9f1c3e2a-5b7d-4c6e-8f90-1a2b3c4d5e6f"),
        **PRODUCTION_PERSONAL,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("settings_class", [IngestSettings, EngineSettings, KpiSettings])
def test_every_service_refuses_the_local_stacks_database_url(settings_class: type[ServiceSettings]) -> None:
    with pytest.raises(ValidationError, match="STAGETRACK_DATABASE_URL is the local stack's default"):
        settings_class(environment="production", identity_hash_key=OWN_KEY)  # type: ignore[call-arg]


@pytest.mark.parametrize("password", ["postgres", "password", "changeme", ""])
def test_every_service_refuses_a_placeholder_database_password(password: str) -> None:
    url = f"postgresql+asyncpg://stagetrack:{password}@db.internal:5432/stagetrack"
    with pytest.raises(ValidationError, match="STAGETRACK_DATABASE_URL carries an empty or placeholder password"):
        KpiSettings(environment="production", database_url=url)


def test_the_kpi_service_has_no_secret_of_its_own_and_starts_in_production_with_its_own_database() -> None:
    KpiSettings(environment="production", database_url=OWN_DATABASE)
    passwordless = "postgresql+asyncpg://kpi_reader@db.internal:5432/stagetrack"  # password from PGPASSWORD
    KpiSettings(environment="production", database_url=passwordless)


def test_every_development_secret_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        EngineSettings(environment="production")
    message = str(refused.value)
    assert "STAGETRACK_ENVIRONMENT=production refuses development secrets" in message
    assert "STAGETRACK_DATABASE_URL" in message and "STAGETRACK_IDENTITY_HASH_KEY" in message


def test_every_command_names_a_refused_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    monkeypatch.setenv("STAGETRACK_ENVIRONMENT", "production")
    assert main(["migrate", "--sql"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stagetrack migrate: ") and "STAGETRACK_DATABASE_URL" in err and "Traceback" not in err
