"""`stagetrack serve` in production: each service refuses to start with a development secret, naming the
setting; with secrets of its own it starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import LOCAL_DATABASE_URL, ServiceSettings
from tests.stack import REPO, eventually, served, settings_env

PRODUCTION = {"STAGETRACK_ENVIRONMENT": "production"}
# The local cluster trusts its clients, so any password reaches it; a real deployment's URL carries its own.
OWN_PASSWORD = "Zq8-this-deployments-own"


def _with_password(url: str) -> str:
    return url.replace("stagetrack@", f"stagetrack:{OWN_PASSWORD}@", 1)


@pytest.mark.parametrize(
    ("service", "env", "named"),
    [
        ("ingest", {"STAGETRACK_HUBSPOT_APP_SECRET": "changeme"}, "STAGETRACK_HUBSPOT_APP_SECRET"),
        ("engine", {}, "STAGETRACK_IDENTITY_HASH_KEY"),
        ("kpi", {}, "STAGETRACK_DATABASE_URL"),
    ],
)
def test_each_service_refuses_to_start_in_production_with_a_development_secret(
    settings: ServiceSettings, service: str, env: dict[str, str], named: str
) -> None:
    # The KPI case names the local stack's own URL (refused before any connection), whatever stack runs the suite.
    database = {
        "STAGETRACK_DATABASE_URL": LOCAL_DATABASE_URL if service == "kpi" else _with_password(settings.database_url)
    }
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", service],
        env=settings_env(settings, **PRODUCTION, **database, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"stagetrack serve {service}: " in result.stderr and named in result.stderr, result.stderr
    assert "changeme" not in result.stderr  # the secret itself is not repeated
    assert "Traceback" not in result.stderr


async def test_the_kpi_service_starts_in_production_with_its_own_database_credentials(
    settings: ServiceSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    env = {**PRODUCTION, "STAGETRACK_DATABASE_URL": _with_password(settings.database_url)}
    async with served("kpi", settings, tmp_path / "kpi.log", **env) as url, httpx.AsyncClient() as client:

        async def ready() -> bool:
            return (await client.get(f"{url}/readyz")).status_code == 200

        await eventually(ready, 20, "the KPI service ready in production, on its own database credentials")
