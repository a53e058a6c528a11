"""The `stagetrack` commands of personal data: erase, export, and `privacy` (rewrap, backfill). docs/privacy.md."""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

import orjson


def add_parsers(sub: Any) -> None:
    for name, what in (
        ("erase", "forget a person: delete their data keys and identities (every count stays); idempotent"),
        ("export", "everything stored about a person, decrypted, as JSON"),
    ):
        command = sub.add_parser(name, help=what)
        subject = command.add_mutually_exclusive_group(required=True)
        subject.add_argument("--email", help="the person's email address")
        subject.add_argument("--crm-id", help="a CRM lead id (an envelope's lead_id)")
        subject.add_argument("--lead-id", help="the engine's internal lead id")
    privacy = sub.add_parser("privacy", help="people's data keys: re-wrap them, key what was stored before")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    privacy_sub.add_parser("rewrap", help="wrap every data key with the current master key (after a rotation)")
    privacy_sub.add_parser("backfill", help="one-off, resumable: a data key for every lead stored before sealing")
    rewrite = privacy_sub.add_parser(
        "rewrite-topic",
        help="one-off, resumable: copy the events topic with every record written before sealing sealed",
    )
    rewrite.add_argument(
        "--to", required=True, metavar="TOPIC", help="the new topic (created with the source's partitions)"
    )


async def run(args: argparse.Namespace) -> int:
    from services.common.personal.person_keys import PersonKeys
    from services.common.personal.rewrap import rewrap
    from services.common.service import database
    from services.stage_engine.app.backfill import backfill
    from services.stage_engine.app.erasure import Subject, SubjectKind, erase
    from services.stage_engine.app.export import export
    from services.stage_engine.app.settings import EngineSettings

    if args.command == "privacy" and args.privacy_command == "rewrite-topic":
        return await _rewrite_topic(args.to)
    settings = EngineSettings()
    async with database(settings) as db:
        if args.command == "privacy" and args.privacy_command == "rewrap":
            print(f"re-wrapped {await rewrap(db, settings.master)} data keys with {settings.master.current}")
            return 0
        if args.command == "privacy":
            done = await backfill(db, PersonKeys(db, settings.master, cache_seconds=0))
            print(f"keyed {done} leads")
            return 0
        kind, value = next(
            (k, v) for k, v in (("email", args.email), ("crm_id", args.crm_id), ("lead_id", args.lead_id)) if v
        )
        subject = Subject(cast(SubjectKind, kind), value)
        if args.command == "erase":
            print(
                orjson.dumps(
                    (await erase(db, subject, settings.hash_key)).as_dict(), option=orjson.OPT_INDENT_2
                ).decode()
            )
        else:
            sys.stdout.write(
                orjson.dumps(await export(db, settings, subject), option=orjson.OPT_INDENT_2).decode() + "\n"
            )
    return 0


async def _rewrite_topic(target: str) -> int:
    from services.common.kafka import ensure_topics
    from services.common.personal.person_keys import PersonKeys
    from services.common.service import database
    from services.ingest.adapters.topic_copy import TopicCopy
    from services.ingest.app.sealer import Sealer, personal_marks
    from services.ingest.app.settings import IngestSettings
    from services.ingest.app.topic_rewrite import rewrite

    settings = IngestSettings()
    security = settings.kafka_security
    copy = TopicCopy(settings.kafka_bootstrap_servers, settings.events_topic, target, security)
    async with database(settings) as db:
        await ensure_topics(settings.kafka_bootstrap_servers, [target], settings.topic_partitions, security=security)
        sealer = Sealer(
            PersonKeys(db, settings.master, settings.person_key_cache_seconds),
            settings.hash_key,
            personal_marks(settings.personal_keys, settings.stage_model),
        )
        try:
            written = await rewrite(copy, sealer)
        finally:
            await copy.stop()
    print(f"copied {written} records of {settings.events_topic} to {target}")
    return 0
