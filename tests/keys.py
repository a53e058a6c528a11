"""API keys for tests: a key with the scopes a test needs, made in the test's own schema like
`stagetrack keys create --source NAME --scope SCOPE` makes one."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.key_tables import source_keys
from services.common.keys import KeyStore


async def new_key(engine: AsyncEngine, *scopes: str, source: str = "tests") -> str:
    """A live key holding `scopes`. Tests that build their tables without the migrations (the KPI's projection
    tables alone) get the key table here, in the schema first on the engine's search path; never `checkfirst`,
    which would find the table of `public` (on the search path too) and put the key there."""
    async with engine.begin() as conn:
        present = await conn.scalar(
            text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_name = :name"
            ),
            {"name": source_keys.name},
        )
        if not present:
            await conn.run_sync(lambda sync: source_keys.create(sync, checkfirst=False))
    return await KeyStore(engine).create(source, scopes)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
