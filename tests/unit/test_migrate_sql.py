"""`stagetrack migrate --sql`: the SQL of every migration for a DBA to review, written without a database."""

from __future__ import annotations

import re

import pytest

import services.tables  # noqa: F401  (registers every table on the shared metadata)
from services.cli import main
from services.common.db import metadata
from services.common.resources import migrations_dir

# Nothing listens here: a connection attempt would fail the test.
UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:9/nowhere"


def _revisions() -> list[str]:
    found = []
    for path in sorted((migrations_dir() / "versions").glob("*.py")):
        match = re.search(r'^revision = "([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)
        assert match, path
        found.append(match[1])
    return found


def _sql(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("STAGETRACK_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("STAGETRACK_DATABASE_SCHEMA", "review_me")
    assert main(["migrate", "--sql", *args]) == 0
    return capsys.readouterr().out


def test_the_script_holds_every_migration_and_every_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = _sql(capsys, monkeypatch)
    assert sql.lstrip().startswith("BEGIN;") and sql.rstrip().endswith("COMMIT;")
    assert 'CREATE SCHEMA IF NOT EXISTS "review_me"' in sql and 'SET search_path TO "review_me"' in sql
    ran = re.findall(r"^-- Running upgrade \S* ?-> (\S+)$", sql, re.MULTILINE)
    assert ran == _revisions()
    for table in metadata.tables.values():
        assert re.search(rf"^CREATE TABLE {table.name} \(", sql, re.MULTILINE), table.name
    assert f"UPDATE review_me.alembic_version SET version_num='{ran[-1]}'" in sql


def test_from_a_revision_only_what_follows(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    revisions = _revisions()
    sql = _sql(capsys, monkeypatch, "--from", revisions[-2])
    assert re.findall(r"^-- Running upgrade (\S+) -> (\S+)$", sql, re.MULTILINE) == [tuple(revisions[-2:])]


def test_an_unknown_revision_prints_no_partial_script(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGETRACK_DATABASE_URL", UNREACHABLE)
    assert main(["migrate", "--sql", "--from", "9999"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "9999" in err


def test_from_needs_sql(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["migrate", "--from", "0001"])
    assert exit_.value.code == 2 and "--from needs --sql" in capsys.readouterr().err
