"""The `stagetrack` command: serve a service, migrate, and the operator commands added by each service."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

SERVICES = {
    "ingest": ("services.ingest.app.bootstrap:create_app", "services.ingest.app.settings:IngestSettings"),
    "engine": (
        "services.stage_engine.app.bootstrap:create_app",
        "services.stage_engine.app.settings:EngineSettings",
    ),
    "kpi": ("services.kpi.app.bootstrap:create_app", "services.kpi.app.settings:KpiSettings"),
}


def _load(path: str) -> object:
    module, _, attr = path.partition(":")
    return getattr(__import__(module, fromlist=[attr]), attr)


def serve(service: str) -> int:
    import uvicorn

    from services.common.observability import configure_logging

    factory_path, settings_path = SERVICES[service]
    settings = _load(settings_path)()  # type: ignore[operator]
    configure_logging(settings.log_level)
    # uvicorn handles SIGTERM/SIGINT: stops accepting, finishes requests, runs the lifespan shutdown.
    uvicorn.run(
        factory_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=20,
    )
    return 0


def migrate() -> int:
    from services.common.migrate import migrate_all
    from services.common.settings import ServiceSettings

    created = asyncio.run(migrate_all(ServiceSettings()))
    print(f"database at head; topics created: {', '.join(created) or 'none (all present)'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stagetrack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser("serve", help="run one service in the foreground")
    serve_p.add_argument("service", choices=sorted(SERVICES))
    sub.add_parser("migrate", help="upgrade the database to head and create the Kafka topics")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.service)
    if args.command == "migrate":
        return migrate()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
