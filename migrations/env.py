"""Alembic environment (async template). The URL and schema come from the caller or from ServiceSettings."""

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import services.tables  # noqa: F401  (registers every table on the shared metadata)
from services.common.database_tls import DatabaseTls
from services.common.db import connect_args, metadata
from services.common.settings import ServiceSettings

config = context.config
target_metadata = metadata


def _target() -> tuple[str, str, DatabaseTls | None]:
    url = config.attributes.get("database_url")
    schema = config.attributes.get("schema")
    tls = config.attributes.get("tls")
    if url is None or schema is None:  # `alembic` run by hand: everything from the settings
        settings = ServiceSettings()
        url, schema, tls = url or settings.database_url, schema or settings.database_schema, settings.database_tls
    return url, schema, tls


def do_run_migrations(connection: Connection, schema: str) -> None:
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    connection.execute(text(f'SET search_path TO "{schema}"'))
    connection.commit()
    context.configure(connection=connection, target_metadata=target_metadata, version_table_schema=schema)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url, schema, tls = _target()
    engine = create_async_engine(url, poolclass=pool.NullPool, connect_args=connect_args(tls=tls))
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations, schema)
    await engine.dispose()


def run_migrations_offline() -> None:
    """The SQL script instead of running it (`stagetrack migrate --sql`, `alembic upgrade head --sql`), for a
    DBA to review: nothing connects; the URL only names the dialect."""
    url, schema, _ = _target()
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
