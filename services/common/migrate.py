"""Alembic upgrade and Kafka topic creation, callable from the CLI and from tests."""

from __future__ import annotations

import asyncio
from typing import TextIO

from alembic import command
from alembic.config import Config

from services.common.database_tls import DatabaseTls
from services.common.kafka import ensure_topics
from services.common.resources import migrations_dir
from services.common.settings import ServiceSettings

MIGRATIONS_DIR = migrations_dir()


def alembic_config(
    database_url: str, schema: str, output: TextIO | None = None, tls: DatabaseTls | None = None
) -> Config:
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    config.attributes["tls"] = tls
    return config


async def upgrade(database_url: str, schema: str, revision: str = "head", tls: DatabaseTls | None = None) -> None:
    # Alembic's async env runs its own event loop; keep it off ours.
    await asyncio.to_thread(command.upgrade, alembic_config(database_url, schema, tls=tls), revision)


async def downgrade(database_url: str, schema: str, revision: str, tls: DatabaseTls | None = None) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(database_url, schema, tls=tls), revision)


def write_sql(database_url: str, schema: str, start: str | None = None, output: TextIO | None = None) -> None:
    """The SQL of the migrations after `start` (None: all of them, from an empty schema) up to head, written for
    review instead of run (Alembic's offline mode), to `output` (None: standard output). Nothing connects and
    no topic is created."""
    command.upgrade(alembic_config(database_url, schema, output), f"{start}:head" if start else "head", sql=True)


async def migrate_all(settings: ServiceSettings) -> list[str]:
    """The database to head and the missing topics created (their names returned); the topics' replication
    warnings and existing topics that fall short of it are logged (`services.common.kafka.ensure_topics`)."""
    await upgrade(settings.database_url, settings.database_schema, tls=settings.database_tls)
    return await ensure_topics(
        settings.kafka_bootstrap_servers,
        settings.topics,
        settings.topic_partitions,
        security=settings.kafka_security,
        replication_factor=settings.topic_replication_factor,
        min_insync_replicas=settings.topic_min_insync_replicas,
    )
