"""uvicorn's server, with one change to how it reads signals, and its configuration for every service.

Ctrl-C in `make run` reaches every process of the group (SIGINT), and `run-services.sh` forwards SIGTERM to each
service as well; a service may handle the two in either order. uvicorn takes any SIGINT after a first signal
for a second Ctrl-C and force-exits, skipping the lifespan shutdown (the engine's in-flight batches, the
producers' flush). Here only a second SIGINT forces the exit, as uvicorn's "(CTRL+C to force quit)" says.
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

from services.common.settings import ServiceSettings
from services.common.slow_clients import DeadlineProtocol

STARTUP_FAILURE = 3  # uvicorn's exit status when the application did not start


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._interrupted = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first_interrupt = sig == signal.SIGINT and not self._interrupted
        self._interrupted = self._interrupted or sig == signal.SIGINT
        force_exit = self.force_exit
        super().handle_exit(sig, frame)
        if first_interrupt:
            self.force_exit = force_exit  # a SIGTERM before it does not make it a second Ctrl-C


def server_config(factory_path: str, settings: ServiceSettings) -> uvicorn.Config:
    """uvicorn serving the app built by the factory at `factory_path` ("module:function")."""
    return uvicorn.Config(
        factory_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,  # one line per request costs more than the request itself; metrics count them
        timeout_graceful_shutdown=20,
        http=DeadlineProtocol.with_timeouts(settings.header_timeout_seconds, settings.body_timeout_seconds),
        # X-Forwarded-For is read by the app, from `trusted_proxies` only (uvicorn would trust 127.0.0.1).
        proxy_headers=False,
    )
