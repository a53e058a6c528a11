"""`stagetrack keys` as an operator runs it: a tracker key with its origin and its verification secret (each
printed once), scopes and origins in the listing, a missing or unknown scope refused."""

from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cli import main
from services.common.api_keys import lead_id_hash
from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.stack import REPO, settings_env


def stagetrack(settings: ServiceSettings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(REPO / ".venv" / "bin" / "stagetrack"), "keys", *args]
    return subprocess.run(command, env=settings_env(settings), capture_output=True, text=True, timeout=60)


async def test_keys_are_made_with_scopes_listed_and_revoked(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    made = stagetrack(settings, "create", "--source", "web", "--scope", "tracker", "--origin", "https://a.example.jp")
    assert made.returncode == 0, made.stderr
    key = re.search(r"^source web: (stk_\S+)$", made.stdout, re.M)
    secret = re.search(r"^lead id verification secret: (stv_\S+)$", made.stdout, re.M)
    assert key and secret, made.stdout
    found = await KeyStore(engine).authenticate(key[1])
    assert found is not None and found.scopes == {"tracker"} and found.origins == ("https://a.example.jp",)
    assert found.verifies("crm-1", lead_id_hash(secret[1], "crm-1"))

    await KeyStore(engine).create("crm", ("crm", "read:leads"))
    listed = stagetrack(settings, "list").stdout
    assert re.search(r"\tweb\ttracker\thttps://a\.example\.jp\t.*\tactive$", listed, re.M), listed
    assert re.search(r"\tcrm\tcrm,read:leads\t-\t.*\tactive$", listed, re.M), listed


@pytest.mark.parametrize("scopes", [["--scope", "admin"], []])
def test_a_key_needs_a_known_scope(scopes: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:  # refused while reading the arguments: before any database
        main(["keys", "create", "--source", "x", *scopes])
    assert refused.value.code == 2 and "--scope" in capsys.readouterr().err
