"""The image recipe, checked without a Docker engine: hadolint clean, the shape the deployment relies on (the
wheel built in one stage and installed in a slim runtime stage, a non-root user, `stagetrack` as the entry
point), and the build context the Dockerfile copies builds the same wheel as the whole checkout. What the
image then runs (the installed wheel migrating and serving) is tests/integration/test_wheel_install.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Stage, copy_sources, exec_form, ignore_patterns, ignored, parse
from tests.deploy.tools import REPO, hadolint, run

DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE)


def test_hadolint_finds_nothing() -> None:
    result = run(hadolint(), "--no-color", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_bad_recipe(tmp_path: Path) -> None:
    """The check has teeth: an untagged base image, a root user and an unpinned apt install are each refused."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\nUSER root\nCMD stagetrack\n")
    result = run(hadolint(), "--no-color", bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3008", "DL3002", "DL3025"):
        assert rule in result.stdout, result.stdout


def test_the_wheel_is_built_in_one_stage_and_installed_in_a_slim_runtime(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "multi-stage: a build stage and the runtime"
    build, runtime = stages[0], stages[-1]
    build_steps = " ".join(build.all("RUN"))
    assert re.search(r"pip wheel|python -m build", build_steps), "the build stage builds the wheel"
    assert re.search(r"pip install [^&]*\.whl", build_steps), "the wheel itself is installed, not the source tree"
    assert "--constraint requirements.lock" in build_steps, "dependencies at the locked versions"
    assert runtime.base.startswith("python:3.11-slim"), runtime.base
    assert any(f"--from={build.name}" in copy for copy in runtime.all("COPY")), "runtime copies the build's result"
    runtime_steps = " ".join(runtime.all("RUN"))
    assert not re.search(r"pip install|apt-get install|apk add", runtime_steps), "no tools installed at run time"
    assert not any(copy for copy in runtime.all("COPY") if "--from=" not in copy), "no source copied into runtime"


def test_stagetrack_runs_as_a_non_root_user(stages: list[Stage]) -> None:
    runtime = stages[-1]
    user = runtime.last("USER")
    assert user is not None, "the runtime stage sets a USER"
    name = user.split(":")[0]
    assert name not in ("root", "0"), user
    assert name.isdigit(), "a numeric uid, so Kubernetes' runAsNonRoot can verify it"
    assert any(name in step for step in runtime.all("RUN")), "the uid is created in the image"
    assert exec_form(runtime.last("ENTRYPOINT") or "null") == ["stagetrack"]
    assert exec_form(runtime.last("CMD") or "null")[:2] == ["serve", "ingest"]
    env = " ".join(runtime.all("ENV"))
    assert "STAGETRACK_HOST=0.0.0.0" in env, "the services listen beyond the container's loopback"


def _copy_tree(files: list[str], target: Path) -> None:
    for relative in files:
        source = REPO / relative
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, destination)


def _build_wheels(sources: list[Path]) -> list[set[str]]:
    """pip's isolated builds (the build backend pyproject.toml names), side by side; each wheel's file names."""
    builds = [
        subprocess.Popen(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(source / "dist"), "."],
            cwd=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for source in sources
    ]
    names = []
    for source, build in zip(sources, builds, strict=True):
        output, _ = build.communicate(timeout=300)
        assert build.returncode == 0, output
        (wheel,) = (source / "dist").glob("stagetrack-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            names.append({name for name in archive.namelist() if not name.endswith(".dist-info/RECORD")})
    return names


def test_the_build_context_builds_the_same_wheel_as_the_checkout(stages: list[Stage], tmp_path: Path) -> None:
    """The files the build stage COPYs, less what .dockerignore keeps out, are all the wheel needs: a file the
    package gains later outside them would be missing from the image and fail here first."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    tracked = [f for f in tracked if f and ((REPO / f).exists() or (REPO / f).is_symlink())]
    patterns = ignore_patterns(REPO / ".dockerignore")
    copied = [s.rstrip("/") for copy in stages[0].all("COPY") for s in copy_sources(copy)]
    in_context = [
        f for f in tracked if not ignored(f, patterns) and any(f == c or f.startswith(c + "/") for c in copied)
    ]
    _copy_tree(in_context, tmp_path / "context")
    _copy_tree(tracked, tmp_path / "checkout")
    from_context, from_checkout = _build_wheels([tmp_path / "context", tmp_path / "checkout"])
    assert from_context == from_checkout, sorted(from_context ^ from_checkout)
    assert any(name.endswith("entry_points.txt") for name in from_context)
