"""deploy/compose checked without a Docker engine: loaded the way `docker compose config -q` loads it (the
Compose Specification's schema, interpolation, cross-references: tests/deploy/compose_config, built on
compose-go, the library docker compose itself uses), then our own rules: every long-running service has a
healthcheck, every stagetrack service waits for the one-shot migration, and each starts with settings that
production accepts (secrets from the env file init-secrets.sh writes, never development ones)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from services.common.settings import ServiceSettings
from services.dispatch.app.settings import DispatchSettings
from services.ingest.app.settings import IngestSettings
from services.kpi.app.settings import KpiSettings
from services.stage_engine.app.settings import EngineSettings
from tests.deploy.tools import REPO, built_tool, run

COMPOSE_DIR = REPO / "deploy" / "compose"
SERVICES: dict[str, tuple[type[BaseSettings], int]] = {
    "ingest": (IngestSettings, 8000),
    "engine": (EngineSettings, 8001),
    "kpi": (KpiSettings, 8002),
    "dispatch": (DispatchSettings, 8003),
}
Project = dict[str, Any]


def _deploy_copy(root: Path) -> Path:
    """deploy/ as an operator's checkout has it, without the secrets a developer's copy may hold."""
    shutil.copytree(
        REPO / "deploy",
        root / "deploy",
        ignore=shutil.ignore_patterns("stagetrack.env", "secrets", "__pycache__"),
        symlinks=True,
    )
    return root / "deploy" / "compose"


def load(compose_file: Path) -> tuple[int, str]:
    result = run(built_tool("compose-config"), compose_file)
    return result.returncode, result.stdout if result.returncode == 0 else result.stderr


@pytest.fixture(scope="module")
def operator_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compose = _deploy_copy(tmp_path_factory.mktemp("operator"))
    result = run(compose / "init-secrets.sh")
    assert result.returncode == 0, result.stderr
    return compose


@pytest.fixture(scope="module")
def project(operator_copy: Path) -> Project:
    code, output = load(operator_copy / "compose.yaml")
    assert code == 0, f"the compose file does not load:\n{output}"
    loaded: Project = json.loads(output)
    return loaded


def _stagetrack_services(project: Project) -> dict[str, Any]:
    image = project["services"]["migrate"]["image"]
    return {name: s for name, s in project["services"].items() if s.get("image") == image}


def test_every_long_running_service_has_a_healthcheck(project: Project) -> None:
    long_running = {name: s for name, s in project["services"].items() if s.get("restart") != "no"}
    assert set(long_running) >= {"kafka", "postgres", "prometheus", "grafana", *SERVICES}
    for name, service in long_running.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']}"


def test_every_stagetrack_service_waits_for_the_migration(project: Project) -> None:
    migrate = project["services"]["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no", "one-shot: it runs, succeeds and stays down"
    assert {k: v["condition"] for k, v in migrate["depends_on"].items()} == {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
    }
    services = _stagetrack_services(project)
    assert set(services) == {"migrate", *SERVICES}, "one image for every stagetrack service"
    for name in SERVICES:
        waits = services[name].get("depends_on", {}).get("migrate", {})
        assert waits.get("condition") == "service_completed_successfully", f"{name} does not wait for migrate"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_serves_on_its_port_and_checks_its_readiness(project: Project, name: str) -> None:
    service = project["services"][name]
    _, port = SERVICES[name]
    assert service["command"] == ["serve", name]
    assert [p["target"] for p in service["ports"]] == [port]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["migrate", *SERVICES])
def test_each_service_starts_with_settings_production_accepts(
    project: Project, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = project["services"][name]["environment"]
    assert environment["STAGETRACK_ENVIRONMENT"] == "production"
    settings_class = SERVICES[name][0] if name in SERVICES else ServiceSettings
    settings = _settings_from(settings_class, environment, monkeypatch)
    assert settings.environment == "production"  # type: ignore[attr-defined]
    assert settings.kafka_bootstrap_servers == "kafka:9092"  # type: ignore[attr-defined]


def test_the_example_env_file_is_refused_in_production(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copied as it is, without init-secrets.sh, stagetrack.env.example stops the services, naming each secret."""
    example = _env_file(COMPOSE_DIR / "stagetrack.env.example")
    environment = {
        **example,
        **{k: v for k, v in project["services"]["engine"]["environment"].items() if k not in example},
    }
    with pytest.raises(ValidationError) as refused:
        _settings_from(EngineSettings, environment, monkeypatch)
    assert "STAGETRACK_DATABASE_URL" in str(refused.value)
    assert "STAGETRACK_IDENTITY_HASH_KEY" in str(refused.value)
    assert "STAGETRACK_MASTER_KEYS" in str(refused.value)


def test_no_secret_is_written_in_the_compose_file() -> None:
    document = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8"))
    for name, service in document["services"].items():
        environment = service.get("environment") or {}
        for key in ("STAGETRACK_DATABASE_URL", "STAGETRACK_IDENTITY_HASH_KEY", "POSTGRES_PASSWORD"):
            assert key not in environment, f"{name} sets {key} in compose.yaml: it belongs in stagetrack.env/secrets"
    assert set(document["secrets"]) == {"postgres_password", "grafana_admin_password"}


def test_kafka_is_the_official_image_in_kraft_mode_and_postgres_is_15(project: Project) -> None:
    kafka, postgres = project["services"]["kafka"], project["services"]["postgres"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert postgres["image"].split(":")[1].startswith("15")
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_prometheus_loads_the_shipped_rules_and_grafana_the_shipped_dashboards(
    project: Project, operator_copy: Path
) -> None:
    root = operator_copy.parents[1]

    def mounts(service: str) -> dict[str, str]:
        return {
            v["target"]: Path(v["source"]).relative_to(root).as_posix()
            for v in project["services"][service]["volumes"]
            if v["type"] == "bind"
        }

    prometheus = mounts("prometheus")
    assert prometheus["/etc/prometheus/rules"] == "deploy/prometheus/rules"
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {f"stagetrack-{name}" for name in SERVICES}, "the rules and dashboards select these jobs"

    grafana = mounts("grafana")
    dashboards_path = project["services"]["grafana"]["environment"]["STAGETRACK_GRAFANA_DASHBOARDS"]
    assert grafana[dashboards_path] == "deploy/grafana/dashboards"
    assert grafana["/etc/grafana/provisioning/dashboards"] == "deploy/grafana/provisioning/dashboards"
    datasources = yaml.safe_load(
        (COMPOSE_DIR / "grafana" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    boards = [
        json.loads(p.read_text(encoding="utf-8")) for p in (REPO / "deploy" / "grafana" / "dashboards").glob("*.json")
    ]
    uids = {
        target["datasource"]["uid"]
        for board in boards
        for panel in board["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {"${datasource}"}, "every panel reads the dashboard's datasource variable"
    # ...whose default is the datasource compose provisions
    defaults = {
        v["current"]["value"] for board in boards for v in board["templating"]["list"] if v["name"] == "datasource"
    }
    assert defaults == {d["uid"] for d in datasources}, "the dashboards' datasource is the one provisioned"


# Each broken copy, and what the refusal must name.
BROKEN = {
    "an unknown key": ("ingest", {"restart_policy": "always"}, "restart_policy"),
    "a wrong type": ("ingest", {"healthcheck": {"retries": "many"}}, "retries"),
    "a dependency on a missing service": (
        "engine",
        {"depends_on": {"nosuch": {"condition": "service_healthy"}}},
        "nosuch",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_compose_file_fails_the_check(operator_copy: Path, case: str) -> None:
    service, change, named = BROKEN[case]
    document = yaml.safe_load((operator_copy / "compose.yaml").read_text(encoding="utf-8"))
    document["services"][service].update(change)
    broken = operator_copy / f"broken-{case.replace(' ', '-')}.yaml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    code, output = load(broken)
    assert code != 0, f"{case} was accepted"
    assert named in output, output


def _env_file(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value
    return entries


def _settings_from(
    settings_class: type[BaseSettings], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> BaseSettings:
    """The settings a container with exactly this environment builds (the image's own ENV adds STAGETRACK_HOST)."""
    for key in [k for k in os.environ if k.startswith("STAGETRACK_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return settings_class()
