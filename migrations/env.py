"""Alembic environment (async template). The URL and schema come from the caller or from ServiceSettings."""

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import services.tables  # noqa: F401  (registers every table on the shared metadata)
from services.common.db import metadata
from services.common.settings import ServiceSettings

config = context.config
target_metadata = metadata


def _target() -> tuple[str, str]:
    url = config.attributes.get("database_url")
    schema = config.attributes.get("schema")
    if url is None or schema is None:
        settings = ServiceSettings()
        url, schema = url or settings.database_url, schema or settings.database_schema
    return url, schema


def do_run_migrations(connection: Connection, schema: str) -> None:
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    connection.execute(text(f'SET search_path TO "{schema}"'))
    connection.commit()
    context.configure(connection=connection, target_metadata=target_metadata, version_table_schema=schema)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url, schema = _target()
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations, schema)
    await engine.dispose()


def run_migrations_offline() -> None:
    """The SQL script instead of running it (`stagetrack migrate --sql`, `alembic upgrade head --sql`), for a
    DBA to review: nothing connects; the URL only names the dialect."""
    url, schema = _target()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        version_table_schema=schema,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        context.execute(f'SET search_path TO "{schema}"')
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
