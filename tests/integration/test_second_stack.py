"""A second local stack beside the first: its Prometheus scrapes its own services, and its directory is its own.

deploy/local/prometheus.sh starts the Prometheus of the stack its STAGETRACK_* variables describe. Here only a
second stack's Prometheus runs (its own port and STAGETRACK_LOCAL), aimed at four small /metrics responders on
free ports that stand in for that stack's ingest, engine and KPI services, beside the first stack's Prometheus.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.stack import REPO, eventually, free_port

PROMETHEUS_SH = REPO / "deploy" / "local" / "prometheus.sh"
SERVICES = ("ingest", "engine", "kpi", "dispatch")
JOBS = {service: f"stagetrack-{service}" for service in SERVICES}
PORT_VARIABLES = {service: f"STAGETRACK_{service.upper()}_PORT" for service in SERVICES}
FIRST_PROMETHEUS = f"http://127.0.0.1:{os.environ.get('STAGETRACK_PROMETHEUS_PORT', '19090')}"


class MetricsResponder(http.server.ThreadingHTTPServer):
    """Answers GET /metrics with one sample naming its service, and counts the scrapes."""

    def __init__(self, service: str) -> None:
        super().__init__(("127.0.0.1", 0), _MetricsHandler)
        self.service = service
        self.scrapes = 0

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    server: MetricsResponder

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        self.server.scrapes += 1
        body = f'stagetrack_probe{{service="{self.server.service}"}} 1\n'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # scrapes are not worth a line each
        pass


@contextlib.contextmanager
def responders() -> Iterator[dict[str, MetricsResponder]]:
    servers = {service: MetricsResponder(service) for service in JOBS}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


def prometheus_sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMETHEUS_SH), command], env=env, capture_output=True, text=True, timeout=120)


def stack_env(local: Path, prometheus_port: int, service_ports: dict[str, int]) -> dict[str, str]:
    """A second stack: its own directory and ports, nothing inherited from the first stack's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGETRACK_")}
    env.update(STAGETRACK_LOCAL=str(local), STAGETRACK_PROMETHEUS_PORT=str(prometheus_port))
    env.update({PORT_VARIABLES[service]: str(port) for service, port in service_ports.items()})
    return env


@contextlib.contextmanager
def second_prometheus(env: dict[str, str]) -> Iterator[str]:
    """`prometheus.sh start` for the stack `env` describes; `prometheus.sh stop` at the end. Yields its URL."""
    try:
        started = prometheus_sh("start", env)
        assert started.returncode == 0, started.stderr
        yield f"http://127.0.0.1:{env['STAGETRACK_PROMETHEUS_PORT']}"
    finally:
        prometheus_sh("stop", env)


async def test_a_second_stacks_prometheus_scrapes_exactly_its_own_services(stack: None, tmp_path: Path) -> None:
    local = tmp_path / "second-stack"
    with responders() as services:
        ports = {service: server.port for service, server in services.items()}
        env = stack_env(local, free_port(), ports)
        with second_prometheus(env) as url:
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:

                async def all_scraped() -> dict[str, tuple[str, str]] | None:
                    targets = (await client.get("/api/v1/targets")).json()["data"]["activeTargets"]
                    seen = {t["labels"]["job"]: (t["scrapeUrl"], t["health"]) for t in targets}
                    up = len(targets) == len(JOBS) and all(health == "up" for _, health in seen.values())
                    return seen if up else None

                seen = await eventually(all_scraped, 30, "the second stack's Prometheus scraping its four targets")
                assert seen == {JOBS[s]: (f"http://127.0.0.1:{port}/metrics", "up") for s, port in ports.items()}
                assert all(server.scrapes > 0 for server in services.values())
                probes = (await client.get("/api/v1/query", params={"query": "stagetrack_probe"})).json()
                assert {(r["metric"]["job"], r["metric"]["service"]) for r in probes["data"]["result"]} == {
                    (job, service) for service, job in JOBS.items()
                }
                # the first stack's Prometheus carries on beside it
                assert (await client.get(f"{FIRST_PROMETHEUS}/-/ready")).status_code == 200
            assert (local / "prometheus" / "data").is_dir(), "the second stack keeps its TSDB in its own directory"
        assert prometheus_sh("status", env).returncode != 0, "prometheus.sh stop left the second Prometheus running"


async def test_a_stack_directory_refuses_a_prometheus_for_other_ports(stack: None, tmp_path: Path) -> None:
    env = stack_env(tmp_path / "stack", free_port(), {service: free_port() for service in JOBS})
    with second_prometheus(env) as url:
        other_stack = {**env, "STAGETRACK_PROMETHEUS_PORT": str(free_port())}
        for command in ("start", "stop"):
            refused = prometheus_sh(command, other_stack)
            assert refused.returncode != 0, f"{command} for other ports went ahead in a directory in use"
            assert "STAGETRACK_LOCAL" in refused.stderr, refused.stderr
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{url}/-/ready")).status_code == 200
