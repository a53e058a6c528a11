"""`python -m bench.engine_no_outbox`: the engine process as `stagetrack serve engine` builds it (same settings,
same bootstrap, same consumer and batch processor) without the outbox publisher's process, so the benchmark can
time consume -> rules -> commit alone and show what publishing stagetrack.lead-events costs beside it."""

from __future__ import annotations

import uvicorn

from services.common.observability import configure_logging
from services.stage_engine.app import bootstrap
from services.stage_engine.app.settings import EngineSettings


def main() -> None:
    settings = EngineSettings()
    configure_logging(settings.log_level)
    app = bootstrap.create_app(settings, publish_lead_events=False)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
