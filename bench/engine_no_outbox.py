"""`python -m bench.engine_no_outbox`: the engine process as `stagetrack serve engine` builds it (same settings,
same bootstrap, same consumer and batch processor) with the outbox publisher left idle, so the benchmark can
time consume -> rules -> commit alone and show what publishing stagetrack.lead-events costs beside it."""

from __future__ import annotations

import asyncio

import uvicorn

from services.common.observability import configure_logging
from services.stage_engine.adapters.outbox import OutboxPublisher
from services.stage_engine.app import bootstrap
from services.stage_engine.app.settings import EngineSettings


class IdleOutbox(OutboxPublisher):
    async def run(self) -> None:
        await asyncio.Event().wait()


def main() -> None:
    settings = EngineSettings()
    configure_logging(settings.log_level)
    bootstrap.OutboxPublisher = IdleOutbox  # type: ignore[attr-defined]
    app = bootstrap.create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
