"""The wheel works anywhere: built from a copy of the working tree, installed into a fresh virtualenv in a
temporary folder (dependencies pinned by requirements.lock), and run from a folder outside the checkout with no
PYTHONPATH: `stagetrack --version`, `migrate --sql`, `migrate` into a schema and topics of the test's own, and
each `serve` answering /healthz and /readyz. What it installs is what the container image installs.

Wheels come from `$STAGETRACK_LOCAL/wheelhouse` (default .local/wheelhouse); what is missing there is downloaded
once with pip, so later runs install without the network.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.kafka import delete_topics
from services.common.settings import ServiceSettings
from tests.stack import REPO, eventually, free_port, unique

WHEELHOUSE = Path(os.environ.get("STAGETRACK_LOCAL") or REPO / ".local") / "wheelhouse"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PROJECT["project"]["version"]
# What a wheel is built from: the package and the folders it links in, with the project's metadata.
SOURCES = ("services", "schemas", "migrations", "pyproject.toml", "README.md")
PORTS = {"ingest": "INGEST", "engine": "ENGINE", "kpi": "KPI", "dispatch": "DISPATCH"}
BOOTSTRAPS = [f"services.{package}.app.bootstrap" for package in ("ingest", "stage_engine", "kpi", "dispatch")]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    outside: Path  # an empty folder far from the checkout: the commands' working directory
    timings: dict[str, float]

    def env(self, **settings: str) -> dict[str, str]:
        """The process environment: nothing that could lead back to the checkout or its virtualenv."""
        dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("STAGETRACK_")}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        return {**env, **settings}

    def run(self, *args: str, timeout: float = 120, **settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.outside,
            env=self.env(**settings),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _pip(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _offline_first(offline: list[str | Path], fetch: list[str | Path]) -> None:
    """Runs pip from the wheelhouse alone; when something is missing there, downloads it (`fetch`) and retries."""
    local = ["--no-index", "--find-links", WHEELHOUSE]
    if _pip(*offline, *local).returncode == 0:
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    fetched = _pip("download", "--dest", WHEELHOUSE, *fetch)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    again = _pip(*offline, *local)
    assert again.returncode == 0, again.stderr[-3000:]


def _copy_sources(target: Path) -> None:
    """The working tree's files (the links in services/common/resources kept as links, relative, so they lead
    to the copies of schemas/ and migrations/); the build's own egg-info and build/ land in the copy."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, symlinks=True, ignore=junk)
        else:
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    timings: dict[str, float] = {}
    started = time.monotonic()
    _copy_sources(root / "src")
    dist = root / "dist"
    build_requires = PROJECT["build-system"]["requires"]
    _offline_first(["wheel", "--no-deps", "--wheel-dir", dist, root / "src"], build_requires)
    (wheel,) = dist.glob("stagetrack-*.whl")
    timings["build"] = time.monotonic() - started

    started = time.monotonic()
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    lock = ["--constraint", REPO / "requirements.lock"]
    _offline_first(["--python", venv / "bin" / "python", "install", "--no-compile", *lock, wheel], [*lock, wheel])
    for copy in WHEELHOUSE.glob("stagetrack-*.whl"):  # pip download saves the project's wheel too: not a dependency
        copy.unlink()
    # Bytecode for what the services import, written once here (pip would compile every module of every
    # dependency, three times longer) rather than by four services starting at once, each compiling all.
    warm = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    subprocess.run(
        [venv / "bin" / "python", "-c", f"import {', '.join(BOOTSTRAPS)}"], env=warm, check=True, timeout=300
    )
    timings["install"] = time.monotonic() - started
    (root / "outside").mkdir()
    yield Installed(wheel, venv, root / "outside", timings)


def test_the_wheel_carries_the_schemas_the_migrations_and_the_model(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        entries = {info.filename: info for info in wheel.infolist()}
    resources = "services/common/resources/"
    expected = {
        resources + str(path.relative_to(REPO))
        for folder in (REPO / "schemas", REPO / "migrations")
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected - entries.keys() == set()
    assert "services/common/stage_model/the-model.yaml" in entries
    assert [n for n in entries if not n.startswith(("services/", f"stagetrack-{VERSION}.dist-info/"))] == []
    links = [n for n, info in entries.items() if stat.S_ISLNK(info.external_attr >> 16)]
    assert links == []  # copies, not links back to where the wheel was built


def test_the_installed_package_reads_only_its_own_files(installed: Installed) -> None:
    probe = (
        "import services, services.common.migrate as m, services.common.stage_model.model as model; "
        "from services.common.resources import schemas_dir; "
        "print(services.__file__); print(schemas_dir().resolve()); print(m.MIGRATIONS_DIR.resolve()); "
        "print(model.DEFAULT_MODEL_PATH.resolve())"
    )
    done = installed.run("python", "-c", probe)
    assert done.returncode == 0, done.stderr
    site = (installed.venv / "lib").resolve()
    for line in done.stdout.split():
        assert Path(line).is_relative_to(site), (line, done.stdout)
        assert not Path(line).is_relative_to(REPO), line
    package = Path(done.stdout.split()[0]).parent
    assert [p for p in package.rglob("*") if p.is_symlink()] == []


def test_version_and_the_sql_for_review(installed: Installed) -> None:
    version = installed.run("stagetrack", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"stagetrack {VERSION}"), version.stderr
    sql = installed.run("stagetrack", "migrate", "--sql", STAGETRACK_DATABASE_SCHEMA="review")
    assert sql.returncode == 0, sql.stderr
    revisions = sorted(p.name for p in (REPO / "migrations" / "versions").glob("*.py"))
    assert sql.stdout.count("-- Running upgrade") == len(revisions) and sql.stdout.rstrip().endswith("COMMIT;")


async def test_migrate_and_every_service_serve(installed: Installed, stack: None, tmp_path: Path) -> None:
    suffix = unique("wheel")
    topics = {"EVENTS": f"{suffix}.events", "LEAD_EVENTS": f"{suffix}.lead-events", "DEAD_LETTER": f"{suffix}.dl"}
    settings = {
        "STAGETRACK_DATABASE_SCHEMA": suffix,
        **{f"STAGETRACK_{name}_TOPIC": topic for name, topic in topics.items()},
        "STAGETRACK_TOPIC_PARTITIONS": "2",
        "STAGETRACK_CONSUMER_GROUP": f"{suffix}-engine",
        "STAGETRACK_DISPATCH_CONSUMER_GROUP": f"{suffix}-dispatch",
    }
    ports = {service: free_port() for service in PORTS}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {service: tmp_path / f"{service}.log" for service in PORTS}
    timings = installed.timings
    try:
        started = time.monotonic()
        migrated = installed.run("stagetrack", "migrate", **settings)
        assert migrated.returncode == 0 and "database at head" in migrated.stdout, migrated.stderr[-3000:]
        timings["migrate"] = time.monotonic() - started
        started = time.monotonic()
        for service, name in PORTS.items():
            processes[service] = subprocess.Popen(
                [str(installed.venv / "bin" / "stagetrack"), "serve", service],
                cwd=installed.outside,
                env=installed.env(**settings, **{f"STAGETRACK_{name}_PORT": str(ports[service])}),
                stdout=logs[service].open("wb"),
                stderr=subprocess.STDOUT,
            )
        async with httpx.AsyncClient(timeout=5) as client:

            async def answers(service: str, path: str) -> bool:
                assert processes[service].poll() is None, logs[service].read_text()[-3000:]
                return (await client.get(f"http://127.0.0.1:{ports[service]}{path}")).status_code == 200

            for path, within in (("/healthz", 90), ("/readyz", 60)):
                await asyncio.gather(
                    *(eventually(lambda s=s, p=path: answers(s, p), within, f"{s} {path} 200") for s in PORTS)
                )
                timings[path] = time.monotonic() - started
        for process in processes.values():
            process.terminate()
        for service, process in processes.items():
            # uvicorn re-raises the SIGTERM it shut down on
            assert process.wait(timeout=30) in (0, -signal.SIGTERM), logs[service].read_text()[-3000:]
            log = logs[service].read_text()
            assert "Traceback" not in log and "Application shutdown complete." in log, log[-3000:]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
        await delete_topics(ServiceSettings().kafka_bootstrap_servers, topics.values())
    print("\nwheel test (s): " + ", ".join(f"{step} {seconds:.1f}" for step, seconds in timings.items()))
