"""The SQL of people's data keys: the ingest's lookup, straight to an asyncpg connection in the caller's
transaction (one statement per step, arrays in place of one row per statement), and the engine's erase and
export on a SQLAlchemy connection."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

Identity = tuple[str, str]

# The owner of each wanted identity, with its key as stored (master key id and wrapped key; NULL if the key was
# erased meanwhile), so a key not in the ingest's memory costs no second query.
_OWNERS = (
    "SELECT i.kind, i.value, i.key_id, k.master_key_id, k.wrapped FROM person_key_identities i"
    " JOIN unnest($1::text[], $2::text[]) AS w(kind, value) ON (i.kind, i.value) = (w.kind, w.value)"
    " LEFT JOIN person_keys k ON k.key_id = i.key_id"
)
# New keys and new identities in one statement; the identities a concurrent request recorded first are not
# inserted (and not returned).
_CREATE = (
    "WITH new_keys AS (INSERT INTO person_keys (key_id, group_id, master_key_id, wrapped)"
    "   SELECT k, k, $1, w FROM unnest($2::text[], $3::bytea[]) AS n(k, w))"
    " INSERT INTO person_key_identities (kind, value, key_id)"
    " SELECT * FROM unnest($4::text[], $5::text[], $6::text[])"
    " ON CONFLICT DO NOTHING RETURNING kind, value"
)
_LINK = (
    "UPDATE person_keys SET group_id = (SELECT group_id FROM person_keys WHERE key_id = $1)"
    " WHERE group_id = (SELECT group_id FROM person_keys WHERE key_id = $2)"
)

_WANTED = "unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS w(kind, value)"
_MATCH = "(i.kind, i.value) = (w.kind, w.value)"
_WRAPPED = text("SELECT key_id, master_key_id, wrapped FROM person_keys WHERE key_id = ANY(CAST(:ids AS text[]))")
_ERASE = text(
    f"WITH found AS (SELECT key_id FROM person_key_identities i JOIN {_WANTED} ON {_MATCH}"
    "   UNION SELECT unnest(CAST(:key_ids AS text[]))),"
    " groups AS (SELECT DISTINCT group_id FROM person_keys WHERE key_id IN (SELECT key_id FROM found)),"
    " gone AS (DELETE FROM person_keys WHERE group_id IN (SELECT group_id FROM groups) RETURNING key_id)"
    " SELECT key_id FROM gone"
)
_FORGET_IDENTITIES = text(f"DELETE FROM person_key_identities i USING {_WANTED} WHERE {_MATCH}")
_FORGET_KEYS = text("DELETE FROM person_key_identities WHERE key_id = ANY(CAST(:ids AS text[]))")

Stored = tuple[str, bytes]  # (master key id, wrapped data key)


async def owners(conn: asyncpg.Connection, identities: Iterable[Identity]) -> dict[Identity, tuple[str, Stored | None]]:
    """identity -> (its key's id, the key as stored, or None if it is gone) for the identities that have one."""
    pairs = list(identities)
    rows = await conn.fetch(_OWNERS, [kind for kind, _ in pairs], [value for _, value in pairs])
    return {(r[0], r[1]): (r[2], None if r[3] is None else (r[3], bytes(r[4]))) for r in rows}


async def create(
    conn: asyncpg.Connection, master_id: str, wrapped: dict[str, bytes], identities: dict[Identity, str]
) -> set[Identity]:
    """Stores the new keys and records the new identities against theirs; returns the identities recorded (the
    others were taken meanwhile, by a concurrent request)."""
    pairs = list(identities)
    rows = await conn.fetch(
        _CREATE,
        master_id,
        list(wrapped),
        list(wrapped.values()),
        [kind for kind, _ in pairs],
        [value for _, value in pairs],
        list(identities.values()),
    )
    return {(kind, value) for kind, value in rows}


async def link(conn: asyncpg.Connection, kept: str, other: str) -> None:
    await conn.execute(_LINK, kept, other)


def _columns(identities: Iterable[Identity]) -> dict[str, list[str]]:
    pairs = list(identities)
    return {"kinds": [kind for kind, _ in pairs], "values": [value for _, value in pairs]}


async def wrapped_keys(conn: AsyncConnection, key_ids: Iterable[str]) -> list[tuple[str, str, bytes]]:
    rows = await conn.execute(_WRAPPED, {"ids": list(key_ids)})
    return [(key_id, master_id, bytes(wrapped)) for key_id, master_id, wrapped in rows]


async def erase_keys(conn: AsyncConnection, identities: Iterable[Identity], key_ids: Iterable[str] = ()) -> list[str]:
    """Deletes the keys `identities` find, those named, and every key linked to them; returns their ids."""
    wanted = list(identities)
    gone = [row[0] for row in await conn.execute(_ERASE, {**_columns(wanted), "key_ids": list(key_ids)})]
    await conn.execute(_FORGET_IDENTITIES, _columns(wanted))
    if gone:
        await conn.execute(_FORGET_KEYS, {"ids": gone})
    return gone
