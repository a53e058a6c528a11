"""The `stagetrack` command: serve a service, migrate, and the operator commands added by each service."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SERVICES = {
    "ingest": ("services.ingest.app.bootstrap:create_app", "services.ingest.app.settings:IngestSettings"),
    "engine": (
        "services.stage_engine.app.bootstrap:create_app",
        "services.stage_engine.app.settings:EngineSettings",
    ),
    "kpi": ("services.kpi.app.bootstrap:create_app", "services.kpi.app.settings:KpiSettings"),
    "dispatch": ("services.dispatch.app.bootstrap:create_app", "services.dispatch.app.settings:DispatchSettings"),
}


def _version() -> str:
    """The installed distribution's version (the wheel's metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stagetrack")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "unknown (not installed)"


def _load(path: str) -> object:
    module, _, attr = path.partition(":")
    return getattr(__import__(module, fromlist=[attr]), attr)


def serve(service: str) -> int:
    from pydantic import ValidationError

    from services.common.observability import configure_logging
    from services.common.server import STARTUP_FAILURE, Server, server_config

    factory_path, settings_path = SERVICES[service]
    try:
        settings = _load(settings_path)()  # type: ignore[operator]
    except ValidationError as exc:
        _print_settings_errors(f"serve {service}", exc)
        return 2
    configure_logging(settings.log_level)
    # uvicorn handles SIGTERM/SIGINT: stops accepting, finishes requests, runs the lifespan shutdown.
    server = Server(server_config(factory_path, settings))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down on; the shutdown is done
        pass
    return 0 if server.started else STARTUP_FAILURE


def migrate(args: argparse.Namespace) -> int:
    from services.common.migrate import migrate_all, write_sql
    from services.common.settings import ServiceSettings

    settings = ServiceSettings()
    if args.sql:
        import io

        from alembic.util import CommandError

        script = io.StringIO()  # printed whole or not at all: a DBA may pipe it into psql
        try:
            write_sql(settings.database_url, settings.database_schema, args.start, script)
        except CommandError as exc:  # an unknown --from revision
            print(f"stagetrack migrate: {exc}", file=sys.stderr)
            return 2
        sys.stdout.write(script.getvalue())
        return 0
    try:
        created = asyncio.run(migrate_all(settings))
    except ValueError as exc:  # a replication the cluster cannot give (factor 3 on one broker)
        print(f"stagetrack migrate: {exc}", file=sys.stderr)
        return 2
    print(f"database at head; topics created: {', '.join(created) or 'none (all present)'}")
    return 0


async def _keys(args: argparse.Namespace) -> int:
    from services.common.keys import KeyStore
    from services.common.service import database
    from services.ingest.app.settings import IngestSettings

    async with database(IngestSettings()) as engine:
        keys = KeyStore(engine)
        if args.keys_command == "create":
            try:
                new = await keys.create_key(args.source, args.scope, args.origin)
            except ValueError as exc:
                print(f"stagetrack keys create: {exc}", file=sys.stderr)
                return 2
            print(f"source {args.source}: {new.key}\n(shown once; only its hash is stored)")
            if new.lead_id_secret is not None:
                print(f"lead id verification secret: {new.lead_id_secret}")
                print("(shown once; keep it on the site's server, never in pages: it signs lead ids)")
        elif args.keys_command == "list":
            for k in await keys.list():
                state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
                scopes, origins = ",".join(k.scopes), " ".join(k.origins) or "-"
                print(
                    f"{k.id}\t{k.key_prefix}…\t{k.source}\t{scopes}\t{origins}\t"
                    f"created {k.created_at:%Y-%m-%d %H:%M}\t{state}"
                )
        else:
            revoked = await keys.revoke(args.key)
            print(f"revoked {revoked} key(s)")
            return 0 if revoked else 1
    return 0


async def _replay(args: argparse.Namespace) -> int:
    from services.stage_engine.app.replay import replay
    from services.stage_engine.app.settings import EngineSettings

    def progress(done: int, total: int) -> None:
        print(f"\rreplayed {done:,}/{total:,} events", end="", file=sys.stderr, flush=True)

    from services.common.stage_model.model_types import ModelError
    from services.stage_engine.adapters.scratch_schema import ReplayRefused

    try:
        result = await replay(EngineSettings(), args.model, keep=args.keep, progress=progress)
    except (ReplayRefused, ModelError, LookupError) as exc:
        print(f"stagetrack replay: {exc}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(result.render())
    return result.exit_code


async def _kpi(args: argparse.Namespace) -> int:
    from services.common.stage_model.model_types import ModelError
    from services.kpi.app.rebuild import run_rebuild

    try:
        return await run_rebuild()
    except ModelError as exc:
        print(f"stagetrack kpi rebuild: {exc}", file=sys.stderr)
        return 2


async def _dead_letters(args: argparse.Namespace) -> int:
    """What the engine dead-lettered (`engine:<partition>:<offset>`) and the KPI projector set aside
    (`kpi:<position>`), listed or re-processed once their cause is fixed."""
    from services.kpi.app import set_aside_admin
    from services.kpi.app.settings import KpiSettings
    from services.stage_engine.app import dead_letter_admin
    from services.stage_engine.app.settings import EngineSettings

    if args.dead_letters_command == "list":
        rows = [
            (e.id, f"{e.time:%Y-%m-%d %H:%M:%S}", e.event_id or "-", "redriven" if e.redriven else "waiting", e.reason)
            for e in await dead_letter_admin.list_dead_letters(EngineSettings())
        ]
        rows += [
            (e.id, f"{e.set_aside_at:%Y-%m-%d %H:%M:%S}", f"{e.lead_id} {e.type}", "waiting", e.reason)
            for e in await set_aside_admin.list_set_aside(KpiSettings())
        ]
        for row in rows:
            print("\t".join(" ".join(str(cell).split())[:300] for cell in row))
        print(f"{len(rows)} set aside", file=sys.stderr)
        return 0
    ids: list[str] | None = None if args.all else list(args.id)
    if ids is not None and (odd := [i for i in ids if not i.startswith(("engine:", "kpi:"))]):
        expected = "ids are engine:<partition>:<offset> or kpi:<position>"
        print(f"stagetrack dead-letters: {', '.join(odd)}: {expected}", file=sys.stderr)
        return 2
    try:
        engine_ids = None if ids is None else [i for i in ids if i.startswith("engine:")]
        kpi_ids = None if ids is None else [i for i in ids if i.startswith("kpi:")]
        sent = await dead_letter_admin.redrive(EngineSettings(), engine_ids) if engine_ids != [] else 0
        projected = await set_aside_admin.redrive(KpiSettings(), kpi_ids) if kpi_ids != [] else 0
    except (LookupError, ValueError) as exc:
        print(f"stagetrack dead-letters: {exc}", file=sys.stderr)
        return 2
    print(f"engine: {sent} re-published to the events topic; kpi: {projected} re-projected")
    return 0


async def _dispatch(args: argparse.Namespace) -> int:
    """The dispatcher's dead letters: listed, or queued again by id."""
    from pydantic import ValidationError

    from services.dispatch.app import admin
    from services.dispatch.app.settings import DispatchSettings

    try:
        settings = DispatchSettings()
    except ValidationError as exc:
        print(f"stagetrack dispatch: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    if args.dispatch_command == "failed":
        deliveries, records = await admin.list_failed(settings)
        for d in deliveries:
            row = (d.id, f"{d.failed_at:%Y-%m-%d %H:%M:%S}", d.endpoint, d.moment_kind, d.lead_id, d.webhook_id)
            print("\t".join(" ".join(str(cell).split())[:300] for cell in (*row, d.attempts, d.last_error or "-")))
        for r in records:
            print("\t".join(("-", f"{r.set_aside_at:%Y-%m-%d %H:%M:%S}", "set aside", r.origin, r.reason[:300])))
        print(f"{len(deliveries)} dead-lettered deliveries, {len(records)} unreadable lead events", file=sys.stderr)
        return 0
    try:
        ids = admin.delivery_ids(args.id)
    except ValueError as exc:
        print(f"stagetrack dispatch resend: {exc}", file=sys.stderr)
        return 2
    queued, missing = await admin.resend(settings, ids)
    print(f"queued again: {' '.join(map(str, queued)) or 'none'}")
    if missing:
        print(f"not dead-lettered (unknown, or already queued): {' '.join(map(str, missing))}", file=sys.stderr)
    return 0 if not missing else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stagetrack", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stagetrack {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser("serve", help="run one service in the foreground")
    serve_p.add_argument("service", choices=sorted(SERVICES))
    migrate_p = sub.add_parser("migrate", help="upgrade the database to head and create the Kafka topics")
    migrate_p.add_argument(
        "--sql", action="store_true", help="print the SQL for review instead (connects to nothing, creates no topic)"
    )
    migrate_p.add_argument(
        "--from", dest="start", metavar="REVISION", help="with --sql: only the migrations after this revision"
    )
    keys_p = sub.add_parser("keys", help="API keys of the ingest's sources")
    keys_sub = keys_p.add_subparsers(dest="keys_command", required=True)
    from services.common.api_keys import SCOPES

    create_p = keys_sub.add_parser("create", help="create a key for a source with its scopes; printed once")
    create_p.add_argument("--source", required=True)
    create_p.add_argument(
        "--scope", action="append", required=True, choices=SCOPES, help="what the key may do (repeatable)"
    )
    create_p.add_argument("--origin", action="append", default=[], help="allowed web origin of a tracker key")
    keys_sub.add_parser("list", help="list keys (id, prefix, source, scopes, origins, state)")
    keys_sub.add_parser("revoke", help="revoke a key by its listed prefix or id").add_argument("key")
    replay_p = sub.add_parser(
        "replay", help="rebuild the store from stagetrack.events in a scratch schema; compare with live or what-if"
    )
    replay_p.add_argument("--model", type=Path, help="replay under this stage model (what-if); live is untouched")
    replay_p.add_argument("--keep", action="store_true", help="keep the scratch schema (its name is printed)")
    kpi_p = sub.add_parser("kpi", help="operator commands of the KPI service")
    kpi_sub = kpi_p.add_subparsers(dest="kpi_command", required=True)
    kpi_sub.add_parser("rebuild", help="rebuild every KPI projection from the event store (one transaction)")
    dl_p = sub.add_parser("dead-letters", help="what the engine dead-lettered and the KPI projector set aside")
    dl_sub = dl_p.add_subparsers(dest="dead_letters_command", required=True)
    dl_sub.add_parser("list", help="every set-aside event: id, time, event, state, reason")
    redrive_p = dl_sub.add_parser("redrive", help="re-process set-aside events once their cause is fixed")
    which = redrive_p.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", help="engine:<partition>:<offset> or kpi:<position>; repeatable")
    which.add_argument("--all", action="store_true", help="every one not redriven before")
    dispatch_p = sub.add_parser("dispatch", help="the dispatcher's dead-lettered webhooks")
    dispatch_sub = dispatch_p.add_subparsers(dest="dispatch_command", required=True)
    dispatch_sub.add_parser("failed", help="dead-lettered deliveries (id, time, endpoint, moment, lead, ...)")
    resend_p = dispatch_sub.add_parser("resend", help="queue dead-lettered deliveries again (same webhook-id)")
    resend_p.add_argument("id", nargs="+", help="a delivery id as `dispatch failed` lists it")
    from services import cli_privacy

    cli_privacy.add_parsers(sub)
    args = parser.parse_args(argv)
    from pydantic import ValidationError

    try:
        return _run(args, parser)
    except ValidationError as exc:  # settings refused (production secrets, a missing URL): one line each
        _print_settings_errors(args.command, exc)
        return 2


def _print_settings_errors(command: str, exc: Any) -> None:
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        reason = error["msg"].removeprefix("Value error, ")
        print(f"stagetrack {command}: {where + ': ' if where else ''}{reason}", file=sys.stderr)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command in ("erase", "export", "privacy"):
        from services import cli_privacy

        return asyncio.run(cli_privacy.run(args))
    if args.command == "dispatch":
        return asyncio.run(_dispatch(args))
    if args.command == "dead-letters":
        return asyncio.run(_dead_letters(args))
    if args.command == "kpi":
        return asyncio.run(_kpi(args))
    if args.command == "replay":
        return asyncio.run(_replay(args))
    if args.command == "keys":
        return asyncio.run(_keys(args))
    if args.command == "serve":
        return serve(args.service)
    if args.command == "migrate":
        if args.start is not None and not args.sql:
            parser.error("--from needs --sql (`stagetrack migrate` upgrades from the database's own revision)")
        return migrate(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
