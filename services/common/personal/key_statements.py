"""The SQL of people's data keys, on a connection the caller holds (the ingest's lookup, the engine's erase)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

Identity = tuple[str, str]

_WANTED = "unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS w(kind, value)"
_MATCH = "(i.kind, i.value) = (w.kind, w.value)"
_OWNERS = text(f"SELECT i.kind, i.value, i.key_id FROM person_key_identities i JOIN {_WANTED} ON {_MATCH}")
_NEW_KEYS = text(
    "INSERT INTO person_keys (key_id, group_id, master_key_id, wrapped)"
    " SELECT k, k, :master, w FROM unnest(CAST(:ids AS text[]), CAST(:wrapped AS bytea[])) AS n(k, w)"
)
_NEW_IDENTITIES = text(
    "INSERT INTO person_key_identities (kind, value, key_id)"
    " SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:values AS text[]), CAST(:keys AS text[]))"
    " ON CONFLICT DO NOTHING RETURNING kind, value"
)
_LINK = text(
    "UPDATE person_keys SET group_id = (SELECT group_id FROM person_keys WHERE key_id = :a)"
    " WHERE group_id = (SELECT group_id FROM person_keys WHERE key_id = :b)"
)
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


def _columns(identities: Iterable[Identity]) -> dict[str, list[str]]:
    pairs = list(identities)
    return {"kinds": [kind for kind, _ in pairs], "values": [value for _, value in pairs]}


async def owners(conn: AsyncConnection, identities: Iterable[Identity]) -> dict[Identity, str]:
    rows = await conn.execute(_OWNERS, _columns(identities))
    return {(kind, value): key_id for kind, value, key_id in rows}


async def insert_keys(conn: AsyncConnection, master_id: str, wrapped: dict[str, bytes]) -> None:
    await conn.execute(_NEW_KEYS, {"master": master_id, "ids": list(wrapped), "wrapped": list(wrapped.values())})


async def insert_identities(conn: AsyncConnection, new: dict[Identity, str]) -> set[Identity]:
    """The identities inserted; the others were taken meanwhile (by a concurrent request)."""
    rows = await conn.execute(_NEW_IDENTITIES, {**_columns(new), "keys": list(new.values())})
    return {(kind, value) for kind, value in rows}


async def link(conn: AsyncConnection, kept: str, other: str) -> None:
    await conn.execute(_LINK, {"a": kept, "b": other})


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
