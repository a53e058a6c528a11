"""uvicorn's server, with one change to how it reads signals.

Ctrl-C in `make run` reaches every process of the group (SIGINT), and `run-services.sh` forwards SIGTERM to each
service as well; a service may handle the two in either order. uvicorn takes any SIGINT after a first signal
for a second Ctrl-C and force-exits, skipping the lifespan shutdown (the engine's in-flight batches, the
producers' flush). Here only a second SIGINT forces the exit, as uvicorn's "(CTRL+C to force quit)" says.
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

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
