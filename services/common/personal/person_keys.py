"""People's data keys, found by their identities: the ingest asks for the key of each identified event.

An event whose identities were all met within `cache_seconds`, naming one key, is answered from memory (no
query). The others go to the store, in one transaction shared by every request waiting meanwhile (while one
transaction runs, the next collects what the requests arriving ask: requests in flight together cost one
transaction, not one each). It reads the owners (with the keys not in memory), creates a key for a person seen
first, records every new identity against the key it found, and links the keys when one event names identities
of two (docs/privacy.md "Keys"). An erasure elsewhere is seen here after at most `cache_seconds`: events sealed
meanwhile are sealed under the erased key, so nobody can read them (the erasure wins).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import driver_connection
from services.common.personal import key_statements as sql
from services.common.personal.key_statements import Identity, Stored
from services.common.personal.sealing import MasterKeys, new_data_key

MAX_CACHED = 100_000
Found = tuple[str, bytes]  # (key id, data key)


@dataclasses.dataclass
class _Ask:
    """One request's events not answered from memory, and where their keys go."""

    wanted: list[Sequence[Identity]]
    answer: asyncio.Future[list[Found]]

    def fail(self, exc: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


class PersonKeys:
    def __init__(
        self, engine: AsyncEngine, master: MasterKeys, cache_seconds: float = 60.0, linger_seconds: float = 0.0
    ) -> None:
        """`linger_seconds`: how long the store's connection stays out of the pool after the last request, for
        the next (checking a connection out and back costs more than the transaction); an owner that lingers
        calls `close` before disposing of the engine."""
        self._engine = engine
        self._master = master
        self._ttl = cache_seconds
        self._linger = linger_seconds
        self._arrived = asyncio.Event()
        self._closing = False
        self._owner: OrderedDict[Identity, tuple[str, float]] = OrderedDict()  # -> (key id, fresh until)
        self._material: OrderedDict[str, bytes] = OrderedDict()
        self._waiting: list[_Ask] = []
        self._serving: asyncio.Task[None] | None = None

    async def keys_for(self, wanted: Sequence[Sequence[Identity]]) -> list[Found]:
        """(key id, data key) for each list of identities, in order; every list holds at least one."""
        now = time.monotonic()
        answers = [self._cached(identities, now) for identities in wanted]
        missing = [identities for identities, found in zip(wanted, answers, strict=True) if found is None]
        if not missing:
            return [found for found in answers if found is not None]
        stored = iter(await self._from_store(missing))
        return [found if found is not None else next(stored) for found in answers]

    def _cached(self, identities: Sequence[Identity], now: float) -> Found | None:
        """The key every identity names, if all are fresh (their expiries differ when requests refreshed them
        apart) and name one key."""
        key_id = None
        for identity in identities:
            entry = self._owner.get(identity)
            if entry is None or entry[1] < now or (key_id is not None and entry[0] != key_id):
                return None
            key_id = entry[0]
        key = self._material.get(key_id) if key_id is not None else None
        return None if key_id is None or key is None else (key_id, key)

    async def _from_store(self, wanted: list[Sequence[Identity]]) -> list[Found]:
        ask = _Ask(wanted, asyncio.get_running_loop().create_future())
        self._waiting.append(ask)
        self._arrived.set()
        if self._serving is None:
            self._serving = asyncio.create_task(self._serve())
        return await ask.answer

    async def close(self) -> None:
        """Ends the lingering: the connection goes back to the pool once the requests waiting are answered."""
        self._closing = True
        self._arrived.set()
        if self._serving is not None:
            await asyncio.shield(self._serving)

    async def _serve(self) -> None:
        try:
            while self._waiting:
                await self._serve_on_one_connection()
        finally:
            self._serving = None

    async def _serve_on_one_connection(self) -> None:
        """Transactions, one after the other, until nobody waits; each answers every request that waited."""
        answered: list[tuple[_Ask, list[Found]]] = []
        asks: list[_Ask] = []
        try:
            async with driver_connection(self._engine) as driver:
                while True:
                    if not self._waiting:
                        if self._linger <= 0 or self._closing:
                            break
                        _answer(answered)  # they never wait for the linger
                        answered = []
                        if not await self._arrival():
                            break
                    _answer(answered)
                    asks, self._waiting = self._waiting, []
                    found = await self._resolved(driver, [w for ask in asks for w in ask.wanted])
                    answered, asks = _split(asks, found), []
        except BaseException as exc:
            _answer(answered)  # their transaction committed
            answered, asks, self._waiting = [], [*asks, *self._waiting], []
            for ask in asks:
                ask.fail(exc)
            if not isinstance(exc, Exception):
                raise
        _answer(answered)  # after the connection is back in the pool: a caller may dispose of the engine next

    async def _arrival(self) -> bool:
        """Whether a request asks within the linger (not when `close` ends it)."""
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), self._linger)
        except TimeoutError:
            return False
        return bool(self._waiting)

    async def _resolved(self, conn: asyncpg.Connection, wanted: Sequence[Sequence[Identity]]) -> list[Found]:
        for attempt in range(3):
            try:
                async with conn.transaction():
                    chosen, found, material = await self._resolve(conn, wanted)
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

    async def _resolve(
        self, conn: asyncpg.Connection, wanted: Sequence[Sequence[Identity]]
    ) -> tuple[list[str], dict[Identity, str], dict[str, bytes]]:
        read = await sql.owners(conn, {i for identities in wanted for i in identities})
        local = {identity: key_id for identity, (key_id, _) in read.items()}
        stored = dict(read.values())
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
        if new_identities:
            wrapped = {key_id: self._master.wrap(key_id, key)[1] for key_id, key in new_keys.items()}
            taken = set(new_identities) - await sql.create(conn, self._master.current, wrapped, new_identities)
            if taken:  # a concurrent request recorded them first: its keys and ours are one person's
                for identity, (owner, _) in (await sql.owners(conn, taken)).items():
                    links.append((new_identities[identity], owner))
                    local[identity] = owner
        for kept, other in links:
            await sql.link(conn, kept, other)
        return chosen, local, self._unwrapped(set(chosen), new_keys, stored)

    def _unwrapped(
        self, key_ids: set[str], new: dict[str, bytes], stored: dict[str, Stored | None]
    ) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for key_id in key_ids:
            key = new.get(key_id) or self._material.get(key_id)
            if key is None and (as_stored := stored.get(key_id)) is not None:
                key = self._master.unwrap(as_stored[0], key_id, as_stored[1])
            if key is not None:
                found[key_id] = key
        if missing := key_ids - found.keys():
            raise KeyErased(f"{len(missing)} data key(s) were erased while the request was resolved; retry it")
        return found

    @staticmethod
    def _remember(cache: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > MAX_CACHED:
            cache.popitem(last=False)


def _split(asks: list[_Ask], found: list[Found]) -> list[tuple[_Ask, list[Found]]]:
    """Each request's share of one transaction's answer, in the order they asked."""
    shares, at = [], 0
    for ask in asks:
        shares.append((ask, found[at : at + len(ask.wanted)]))
        at += len(ask.wanted)
    return shares


def _answer(answered: list[tuple[_Ask, list[Found]]]) -> None:
    for ask, found in answered:
        if not ask.answer.done():  # its request may have been cancelled (its deadline) meanwhile
            ask.answer.set_result(found)


class KeyErased(Exception):
    """A key found for the request was erased before it could be read; the request can be sent again."""


async def data_keys(conn: AsyncConnection, master: MasterKeys, key_ids: Iterable[str]) -> dict[str, bytes]:
    """The data keys still stored among `key_ids`, unwrapped (export; an erased key is simply absent)."""
    return {k: master.unwrap(m, k, w) for k, m, w in await sql.wrapped_keys(conn, set(key_ids))}
