"""A service stops cleanly (lifespan shutdown included) whatever order SIGINT and SIGTERM reach it in: Ctrl-C
in `make run` sends SIGINT to the whole process group and run-services.sh forwards SIGTERM as well."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest
import uvicorn

from services.common.server import Server
from tests.stack import REPO, eventually, free_port


@pytest.mark.parametrize("signals", [(signal.SIGTERM, signal.SIGINT), (signal.SIGINT, signal.SIGTERM)])
async def test_sigterm_and_the_ctrl_c_sigint_in_either_order_run_the_lifespan_shutdown(
    stack: None, signals: tuple[signal.Signals, signal.Signals]
) -> None:
    port = free_port()
    service = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "kpi"],
        env={**os.environ, "STAGETRACK_KPI_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(timeout=2) as client:

            async def ready() -> bool:
                return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200

            await eventually(ready, 60, "the KPI service answers")
        first, second = signals
        service.send_signal(first)
        assert service.stdout is not None
        seen = ""
        while "Shutting down" not in seen and (line := service.stdout.readline()):
            seen += line.decode()
        service.send_signal(second)  # while the shutdown the first one started runs
        log = seen + service.communicate(timeout=30)[0].decode()
    finally:
        service.kill()
    assert "Application shutdown complete." in log, log


def test_a_second_ctrl_c_still_forces_the_exit() -> None:
    server = Server(uvicorn.Config("services.kpi.app.bootstrap:create_app", factory=True))
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGINT, None)
    assert server.should_exit and not server.force_exit
    server.handle_exit(signal.SIGINT, None)
    assert server.force_exit
