"""The scratch schema a replay builds its store in, and the live commit order it borrows (read-only).

The scratch schema gets the same migrations as live; an engine whose search_path starts with it makes the
ordinary EventStore write there. Live tables are only ever read: the first store position of every envelope
the live engine applied is copied into the scratch schema (`replay_live_order`), so the replay can interleave
partitions in the order the live engine did, without holding that map in memory.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.database_tls import DatabaseTls
from services.common.migrate import upgrade

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ReplayRefused(RuntimeError):
    """The replay cannot run as asked (no live store, a name already taken); the message says why."""


def quoted(schema: str) -> str:
    """A schema name safe to put in SQL (names are checked, never escaped)."""
    if not _SCHEMA_NAME.match(schema):
        raise ReplayRefused(f"not a plain schema name: {schema!r}")
    return f'"{schema}"'


class ScratchSchema:
    def __init__(
        self, database_url: str, live_schema: str, name: str | None = None, tls: DatabaseTls | None = None
    ) -> None:
        self.name = name or f"replay_{uuid.uuid4().hex[:12]}"
        self.live = live_schema
        self._url = database_url
        self._tls = tls
        self.created = False  # only a schema this object created is ever dropped
        quoted(self.name)
        quoted(live_schema)
        # Reads across schemas with qualified names; the scratch engine writes unqualified (search_path).
        self.admin: AsyncEngine = db.create_engine(database_url, pool_size=2, tls=tls)
        self.engine: AsyncEngine = db.create_engine(database_url, self.name, pool_size=2, tls=tls)

    async def create(self) -> None:
        """Migrates a fresh scratch schema and copies the live engine's order of application into it."""
        async with self.admin.begin() as conn:
            live_store = await conn.scalar(
                text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s AND table_name = 'lead_events'"),
                {"s": self.live},
            )
            exists = await conn.scalar(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": self.name}
            )
        if not live_store:
            raise ReplayRefused(f"schema {self.live} has no event store to compare with (run `stagetrack migrate`)")
        if exists:
            raise ReplayRefused(f"schema {self.name} already exists; a replay needs a fresh one")
        self.created = True
        await upgrade(self._url, self.name, tls=self._tls)
        scratch, live = quoted(self.name), quoted(self.live)
        async with self.admin.begin() as conn:
            await conn.execute(
                text(
                    f"CREATE TABLE {scratch}.replay_live_order (event_id, position) AS "
                    f"SELECT cause_event_id, min(position) FROM {live}.lead_events GROUP BY cause_event_id"
                )
            )
            await conn.execute(text(f"ALTER TABLE {scratch}.replay_live_order ADD PRIMARY KEY (event_id)"))

    async def live_positions(self, event_ids: list[str]) -> dict[str, int]:
        """event_id -> the store position at which the live engine applied it (absent: no effect live)."""
        if not event_ids:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT event_id, position FROM replay_live_order WHERE event_id = ANY(:ids)"),
                {"ids": event_ids},
            )
            return {r[0]: r[1] for r in rows}

    async def drop(self) -> None:
        if not self.created:
            return
        await self.engine.dispose()
        async with self.admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted(self.name)} CASCADE"))

    async def close(self) -> None:
        await self.engine.dispose()
        await self.admin.dispose()
