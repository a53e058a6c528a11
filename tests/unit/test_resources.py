"""The package finds its files inside itself (importlib.resources), never by walking up to a checkout; the
repository's schemas/ and migrations/ are what it ships, and every kind of file in them is package data."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

import services
from services.common import migrate
from services.common.resources import migrations_dir, schemas_dir
from services.common.stage_model import model, model_schema
from services.dispatch.adapters import subscriptions_file
from services.ingest.domain.schemas import default_schemas_dir

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(services.__file__).parent


@pytest.mark.parametrize(
    "found",
    [
        schemas_dir(),
        default_schemas_dir(),
        migrations_dir(),
        migrate.MIGRATIONS_DIR,
        model.DEFAULT_MODEL_PATH,
        model_schema.SCHEMA_PATH,
        subscriptions_file.SCHEMA_PATH,
    ],
    ids=str,
)
def test_every_file_the_code_reads_is_found_inside_the_package(found: Path) -> None:
    assert found.is_relative_to(PACKAGE), found  # as found, before any link is followed
    assert found.exists(), found


def test_in_a_checkout_the_package_ships_the_repositorys_folders() -> None:
    assert schemas_dir().resolve() == REPO / "schemas"
    assert migrations_dir().resolve() == REPO / "migrations"


def test_no_module_walks_up_from_its_own_file() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {pattern}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.is_relative_to(PACKAGE / "common" / "resources")
        for pattern in ("parents[", ".parent.parent", "os.path.dirname(os.path.dirname")
        if pattern in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_every_kind_of_file_in_the_shipped_folders_is_package_data() -> None:
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    files = [p for folder in (REPO / "schemas", REPO / "migrations") for p in folder.rglob("*") if p.is_file()]
    unshipped = [
        str(p.relative_to(REPO))
        for p in files
        if "__pycache__" not in p.parts and p.suffix != ".py" and not any(fnmatch.fnmatch(p.name, g) for g in globs)
    ]
    assert files and unshipped == []
