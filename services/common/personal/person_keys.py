"""People's data keys, found by their identities: the ingest asks for the key of each identified event.

A request's events are resolved together: identities seen recently are answered from memory (no query); the rest
in one transaction that reads the owners, creates a key for a person seen first, records every new identity
against the key it found, and links the keys when one event names identities of two (docs/privacy.md "Keys").
An erasure elsewhere is seen here after at most `cache_seconds`: events sealed meanwhile are sealed under the
erased key, so nobody can read them (the erasure wins).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.personal import key_statements as sql
from services.common.personal.key_statements import Identity
from services.common.personal.sealing import MasterKeys, new_data_key

MAX_CACHED = 100_000


class PersonKeys:
    def __init__(self, engine: AsyncEngine, master: MasterKeys, cache_seconds: float = 60.0) -> None:
        self._engine = engine
        self._master = master
        self._ttl = cache_seconds
        self._owner: OrderedDict[Identity, tuple[str, float]] = OrderedDict()  # -> (key id, fresh until)
        self._material: OrderedDict[str, bytes] = OrderedDict()

    async def keys_for(self, wanted: Sequence[Sequence[Identity]]) -> list[tuple[str, bytes]]:
        """(key id, data key) for each list of identities, in order; every list holds at least one."""
        cached = self._cached(wanted)
        if cached is not None:
            return cached
        for attempt in range(3):
            try:
                async with self._engine.begin() as conn:
                    chosen, found = await self._resolve(conn, wanted)
                    material = await self._unwrapped(conn, set(chosen))
                break
            except KeyErased:  # an erasure between our read and our use: read again
                self._owner.clear()
                if attempt == 2:
                    raise
        now = time.monotonic()
        for identity, key_id in found.items():
            self._remember(self._owner, identity, (key_id, now + self._ttl))
        for key_id, key in material.items():
            self._remember(self._material, key_id, key)
        return [(key_id, material[key_id]) for key_id in chosen]

    def _cached(self, wanted: Sequence[Sequence[Identity]]) -> list[tuple[str, bytes]] | None:
        now, answer = time.monotonic(), []
        for identities in wanted:
            # One key, every identity's entry fresh (their expiries differ when requests refreshed them apart).
            entries = [self._owner.get(i) for i in identities]
            if any(entry is None or entry[1] < now for entry in entries):
                return None
            key_ids = {entry[0] for entry in entries if entry is not None}
            if len(key_ids) != 1 or (key_id := next(iter(key_ids))) not in self._material:
                return None
            answer.append((key_id, self._material[key_id]))
        return answer

    async def _resolve(
        self, conn: AsyncConnection, wanted: Sequence[Sequence[Identity]]
    ) -> tuple[list[str], dict[Identity, str]]:
        local = await sql.owners(conn, {i for identities in wanted for i in identities})
        new_keys: dict[str, bytes] = {}
        new_identities: dict[Identity, str] = {}
        links: list[tuple[str, str]] = []
        chosen: list[str] = []
        for identities in wanted:
            found = list(dict.fromkeys(local[i] for i in identities if i in local))
            if found:
                key_id = found[0]
                links += [(key_id, other) for other in found[1:]]
            else:
                key_id = uuid.uuid4().hex
                new_keys[key_id] = new_data_key()
            for identity in identities:
                if identity not in local:
                    local[identity] = new_identities[identity] = key_id
            chosen.append(key_id)
        if new_keys:
            wrapped = {key_id: self._master.wrap(key_id, key)[1] for key_id, key in new_keys.items()}
            await sql.insert_keys(conn, self._master.current, wrapped)
            self._material.update(new_keys)
        if new_identities:
            taken = set(new_identities) - await sql.insert_identities(conn, new_identities)
            if taken:  # a concurrent request recorded them first: its keys and ours are one person's
                for identity, owner in (await sql.owners(conn, taken)).items():
                    links.append((new_identities[identity], owner))
                    local[identity] = owner
        for kept, other in links:
            await sql.link(conn, kept, other)
        return chosen, local

    async def _unwrapped(self, conn: AsyncConnection, key_ids: set[str]) -> dict[str, bytes]:
        found = {k: self._material[k] for k in key_ids if k in self._material}
        for key_id, master_id, wrapped in await sql.wrapped_keys(conn, key_ids - found.keys()):
            found[key_id] = self._master.unwrap(master_id, key_id, wrapped)
        if missing := key_ids - found.keys():
            raise KeyErased(f"{len(missing)} data key(s) were erased while the request was resolved; retry it")
        return found

    @staticmethod
    def _remember(cache: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > MAX_CACHED:
            cache.popitem(last=False)


class KeyErased(Exception):
    """A key found for the request was erased before it could be read; the request can be sent again."""


async def data_keys(conn: AsyncConnection, master: MasterKeys, key_ids: Iterable[str]) -> dict[str, bytes]:
    """The data keys still stored among `key_ids`, unwrapped (export; an erased key is simply absent)."""
    return {k: master.unwrap(m, k, w) for k, m, w in await sql.wrapped_keys(conn, set(key_ids))}
