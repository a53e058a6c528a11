"""SQLAlchemy async on asyncpg against the real PostgreSQL, and the Alembic history both ways."""

from __future__ import annotations

from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.key_tables import source_keys
from services.common.migrate import downgrade, upgrade
from services.common.settings import ServiceSettings


async def _tables(engine: AsyncEngine, schema: str) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names(schema=schema)))


async def test_upgrade_downgrade_upgrade_on_the_real_database(settings: ServiceSettings, engine: AsyncEngine) -> None:
    schema = settings.database_schema
    await upgrade(settings.database_url, schema)
    assert {"source_keys", "alembic_version"} <= await _tables(engine, schema)

    await downgrade(settings.database_url, schema, "base")
    assert await _tables(engine, schema) == {"alembic_version"}

    await upgrade(settings.database_url, schema)
    assert "source_keys" in await _tables(engine, schema)


async def test_rows_written_through_sqlalchemy_async_read_back(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    async with engine.begin() as conn:
        await conn.execute(
            insert(source_keys),
            [
                {"source": "web", "key_hash": "h1", "key_prefix": "p1"},
                {"source": "crm", "key_hash": "h2", "key_prefix": "p2"},
            ],
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(select(source_keys.c.source).order_by(source_keys.c.source))).scalars().all()
    assert rows == ["crm", "web"]
