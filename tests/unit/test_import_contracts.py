"""The rooms hold by themselves: each import contract in pyproject.toml fails the build when code breaks it.
Each case copies the package, adds one forbidden import and runs `lint-imports` on the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "services", tmp_path / "services", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    "module,forbidden_import,contract",
    [
        ("services/kpi/domain/funnel.py", "import asyncpg", "Domain code is pure"),
        ("services/stage_engine/domain/decide.py", "from services.stage_engine.adapters import store", "Domain code"),
        ("services/ingest/domain/validation.py", "from services.ingest.app import settings", "Domain code is pure"),
        ("services/kpi/api/params.py", "from services.kpi.adapters import tables", "Routes do not reach adapters"),
        ("services/kpi/app/settings.py", "from services.stage_engine.domain import lead", "No service imports another"),
        ("services/common/stage_model/model.py", "import sqlalchemy", "The kernel (stage model"),
        ("services/common/envelope.py", "from services.ingest.domain import problems", "The shared kernel imports no"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    package_copy: Path, module: str, forbidden_import: str, contract: str
) -> None:
    path = package_copy / module
    path.write_text(path.read_text() + f"\n{forbidden_import}  # noqa\n")
    result = _lint(package_copy)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert [line for line in broken if line.startswith(contract)], (forbidden_import, broken, result.stdout[-2000:])
