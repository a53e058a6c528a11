"""The script `stagetrack migrate --sql` prints is the migration: applied by a DBA to an empty schema it gives the
columns, indexes and constraints `stagetrack migrate` gives, and `stagetrack migrate` then finds it at head."""

from __future__ import annotations

import io

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.migrate import upgrade, write_sql
from services.common.settings import ServiceSettings
from tests.stack import unique

SHAPE = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = :schema
UNION ALL
SELECT 'index', replace(indexdef, :schema || '.', '') FROM pg_indexes WHERE schemaname = :schema
UNION ALL
SELECT 'constraint', conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = CAST(:schema AS regnamespace)
"""


async def _shape(engine: AsyncEngine, schema: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        await conn.execute(text(f'SET search_path TO "{schema}"'))  # regclass names unqualified, as in the other
        rows = await conn.execute(text(SHAPE), {"schema": schema})
        return sorted((kind, what.replace(schema, "<schema>")) for kind, what in rows)


async def test_the_reviewed_script_builds_what_migrate_builds(settings: ServiceSettings) -> None:
    scripted, migrated = unique("scripted"), unique("migrated")
    script = io.StringIO()
    write_sql(settings.database_url, scripted, output=script)
    admin = db.create_engine(settings.database_url)
    try:
        async with admin.connect() as conn:
            raw = await db.raw_connection(conn)
            await raw.execute(script.getvalue())  # as psql -f would: the script's own BEGIN and COMMIT
        await upgrade(settings.database_url, migrated)
        shape = await _shape(admin, migrated)
        assert {kind for kind, _ in shape} == {"column", "index", "constraint"}
        assert await _shape(admin, scripted) == shape
        async with admin.connect() as conn:
            revision = await conn.scalar(text(f'SELECT version_num FROM "{scripted}".alembic_version'))
        await upgrade(settings.database_url, scripted)  # nothing left to do
        async with admin.connect() as conn:
            assert await conn.scalar(text(f'SELECT version_num FROM "{scripted}".alembic_version')) == revision
    finally:
        async with admin.begin() as conn:
            for schema in (scripted, migrated):
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()
