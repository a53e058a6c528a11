"""What `make run` starts: the four services ready, Prometheus scraping them, a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from services.common.migrate import migrate_all
from services.common.settings import ServiceSettings
from tests.stack import REPO, eventually, free_port

SERVICES = {
    "INGEST": "stagetrack-ingest",
    "ENGINE": "stagetrack-engine",
    "KPI": "stagetrack-kpi",
    "DISPATCH": "stagetrack-dispatch",
}


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in SERVICES}


@pytest.fixture
def services(stack: None, ports: dict[str, int], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **{f"STAGETRACK_{name}_PORT": str(port) for name, port in ports.items()}}
    proc = subprocess.Popen(
        [str(REPO / "deploy" / "local" / "run-services.sh")],
        env=env,
        start_new_session=True,
        stdout=(tmp_path / "services.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def prometheus(stack: None, ports: dict[str, int], tmp_path: Path) -> Iterator[int]:
    """A Prometheus of this test's own, with the committed scrape config aimed at the test's ports."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config.pop("rule_files", None)
    for job in config["scrape_configs"]:
        name = next(n for n, j in SERVICES.items() if j == job["job_name"])
        job["static_configs"][0]["targets"] = [f"127.0.0.1:{ports[name]}"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield port
    proc.terminate()
    proc.wait(timeout=30)


async def test_services_become_ready_are_scraped_and_stop_cleanly(
    services: subprocess.Popen[bytes], prometheus: int, ports: dict[str, int], tmp_path: Path
) -> None:
    await migrate_all(ServiceSettings())
    async with httpx.AsyncClient(timeout=5) as client:
        for name, port in ports.items():

            async def ready(port: int = port) -> bool:
                return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200

            await eventually(ready, 60, f"{name} /readyz 200")

        async def all_targets_up() -> bool:
            body = (await client.get(f"http://127.0.0.1:{prometheus}/api/v1/targets")).json()
            health = {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}
            return health == {job: "up" for job in SERVICES.values()}

        await eventually(all_targets_up, 60, "Prometheus sees the four services up")

    os.killpg(services.pid, signal.SIGINT)  # what Ctrl-C in `make run` sends
    assert services.wait(timeout=30) == 0
    log = (tmp_path / "services.log").read_text()
    for name in ("ingest", "engine", "kpi", "dispatch"):
        assert f"[{name}] INFO:     Application shutdown complete." in log, log
    async with httpx.AsyncClient(timeout=2) as client:
        for port in ports.values():
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/healthz")
