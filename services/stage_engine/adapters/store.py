"""The event store's batch transaction, on the asyncpg connection under SQLAlchemy's transaction.

One transaction per consumed batch holds: the claimed event ids, the identity index changes, the snapshots,
the appended domain events and the consumer offsets. Set-based statements (unnest) keep it fast.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import raw_connection
from services.stage_engine.adapters.snapshot_codec import lead_from_json
from services.stage_engine.adapters.store_documents import (
    activity_document,
    array_document,
    events_document,
    owners_document,
    snapshots_document,
)
from services.stage_engine.adapters.store_errors import IdentityRace
from services.stage_engine.adapters.store_statements import (
    CLAIM,
    CREATE_WRITE_BATCH,
    SET_ASIDE,
    WRITE_BATCH,
)
from services.stage_engine.domain.batch import BatchOutcome
from services.stage_engine.domain.lead import Identity, Lead

# Serializes the append step of concurrent writers so positions follow commit order (ARCHITECTURE, guarantee 4).
# Taken as (APPEND_LOCK, hash of the schema): advisory locks are database-wide, and stores in other schemas
# (other deployments, test runs) must not wait for each other.
APPEND_LOCK = 0x57A6E  # arbitrary constant shared by every engine

TopicPartition = tuple[str, int]


__all__ = ["EventStore", "IdentityRace", "StoreTransaction", "TopicPartition"]


class StoreTransaction:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(
        self, token: int, event_ids: list[str], identities: Iterable[Identity], not_loading: Iterable[str] = ()
    ) -> tuple[set[str], dict[Identity, str], dict[str, Lead]]:
        """One round trip: takes the batch's `token` (an advisory lock to the end of the transaction: the batch
        behind waits for it before its append, see `write`), records the ids as taken, looks the identities up,
        locks and loads the leads they point at (sorted, like `leads`; not those in `not_loading`). Returns the
        ids not taken before (duplicates are skipped), identity -> lead for the identities already known, and the
        leads loaded (those they were merged into are not followed here: see `leads`)."""
        rows = await self.conn.fetch(
            CLAIM, array_document(event_ids), array_document(identities), array_document(not_loading), token
        )
        fresh, owners, leads = set(), {}, {}
        for what, a, b, c in rows:
            if what == 0:
                fresh.add(a)
            elif what == 1:
                owners[(b, c)] = a
            elif what == 2:  # as text, parsed by msgspec (the dialect's jsonb codec, json.loads, is far slower)
                leads[a] = lead_from_json(b)
            # what == 3: the token's row
        return fresh, owners, leads

    async def set_aside(self, claimed: Collection[str], places: Collection[str]) -> set[str]:
        """Events set aside: their claimed ids are released (a redrive can store them later), their places in
        the log (`kafka:topic/partition/offset`) claimed instead; returns the places not claimed before (the
        others were set aside by an earlier attempt and are not dead-lettered again)."""
        rows = await self.conn.fetch(SET_ASIDE, array_document(claimed), array_document(places))
        return {row[0] for row in rows}

    async def leads(self, lead_ids: Iterable[str]) -> dict[str, Lead]:
        """Locks and loads the leads, following merged_into to their survivors."""
        found: dict[str, Lead] = {}
        wanted = set(lead_ids)
        while wanted:
            rows = await self.conn.fetch(
                "SELECT state::text FROM lead_snapshots WHERE lead_id = ANY($1::text[]) ORDER BY lead_id FOR UPDATE",
                sorted(wanted),
            )
            for row in rows:
                # as text, parsed by msgspec into the Lead (the dialect's jsonb codec, json.loads, is far slower)
                lead = lead_from_json(row["state"])
                found[lead.lead_id] = lead
            wanted = {lead.merged_into for lead in found.values() if lead.merged_into} - set(found)
        return found

    async def write(
        self,
        outcome: BatchOutcome,
        group_id: str,
        offsets: Mapping[TopicPartition, int],
        front_tokens: Sequence[int] = (),
        held_in_front: Collection[str] = (),
    ) -> None:
        """One call, sent at once even while the batches in front still write (`front_tokens`: the tokens they
        hold until they end): PostgreSQL parses the documents and writes the snapshots of the leads the batches in
        front do not hold (not in `held_in_front`: they neither locked nor changed them), then waits for the
        batches in front to end, takes the append lock and writes the rest in one statement that sees what
        they wrote: the other snapshots, the new identities, the merges'
        re-pointing, the consumer offsets (`GREATEST`: a late writer never moves an offset back), the append
        and the page and screen views (`lead_activity`). The caller commits only if the batch in front
        committed (it may have rolled back).

        So the serial part of the pipeline, from the end of the batch in front to this batch's append, holds
        no round trip and no parsing. Nothing a batch in front writes is written before it ended, so it never
        waits for a lock this batch holds; and nothing another engine's last statement can wait for
        (identities, the append lock, offsets) is taken before the wait (`docs/engine.md`, "Lock waits")."""
        early = [lead for lead in outcome.leads.values() if lead.lead_id not in held_in_front]
        late = [lead for lead in outcome.leads.values() if lead.lead_id in held_in_front]
        survivors = _final_survivors(outcome.repointed)
        topics, partitions, next_offsets = _columns(((t, p, o) for (t, p), o in offsets.items()), 3)
        # the re-pointing does not see identities inserted by the same statement: they go to the final survivor
        identities = {identity: survivors.get(lead, lead) for identity, lead in outcome.new_identities.items()}
        inserted = await self.conn.fetchval(
            WRITE_BATCH,
            snapshots_document(early),
            snapshots_document(late),
            list(survivors),
            list(survivors.values()),
            group_id,
            topics,
            partitions,
            next_offsets,
            APPEND_LOCK,
            events_document(outcome.appended, outcome.cause_types),
            len(outcome.appended),
            owners_document(identities),
            activity_document(outcome.activity.rows(survivors)),
            list(front_tokens),
        )
        if inserted != len(identities):
            raise IdentityRace("an identity of this batch was linked to another lead concurrently")


def _final_survivors(repointed: Mapping[str, str]) -> dict[str, str]:
    """absorbed -> the survivor at the end of its chain (A into B, then B into C: A's identities go to C), as
    re-pointing one merge after the other would leave them; one UPDATE changes each row once."""
    final: dict[str, str] = {}
    for absorbed, survivor in repointed.items():
        seen = {absorbed}
        while survivor in repointed and survivor not in seen:
            seen.add(survivor)
            survivor = repointed[survivor]
        final[absorbed] = survivor
    return final


def _columns(rows: Iterable[Iterable[Any]], width: int) -> list[list[Any]]:
    """Rows -> one list per column (transposed by zip, in C: this runs for every row the store writes)."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    if not columns:
        return [[] for _ in range(width)]
    assert len(columns) == width, f"rows of {len(columns)} values, expected {width}"
    return columns


class EventStore:
    def __init__(self, engine: AsyncEngine, keep_connections: bool = False) -> None:
        """`keep_connections`: keep connections between transactions (at most one per transaction in flight);
        checking one out of the pool costs the pool's pre-ping, three round trips, each time. One that failed
        goes back to the pool. The owner then calls `close` before disposing of the engine."""
        self._engine = engine
        self._keep = keep_connections
        self._idle: list[tuple[AsyncConnection, asyncpg.Connection]] = []
        self._ready: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()  # those with the write function

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StoreTransaction]:
        # asyncpg's own transaction: SQLAlchemy only begins one when it runs a statement itself, and every
        # statement here goes straight to the driver, so without this each one would autocommit.
        conn, driver = self._idle.pop() if self._idle else await self._checkout()
        try:
            if driver not in self._ready:  # once per connection (kept ones are reused, the pool's may be too)
                await driver.execute(CREATE_WRITE_BATCH)
                self._ready.add(driver)
            async with driver.transaction():
                yield StoreTransaction(driver)
        except BaseException:
            await conn.close()  # back to the pool, which checks it before its next use
            raise
        if self._keep:
            self._idle.append((conn, driver))
        else:
            await conn.close()

    async def _checkout(self) -> tuple[AsyncConnection, asyncpg.Connection]:
        conn = await self._engine.connect()
        driver = await raw_connection(conn)
        return conn, driver

    async def close(self) -> None:
        """Returns the kept connections to the pool (at shutdown, before the engine is disposed)."""
        while self._idle:
            await self._idle.pop()[0].close()

    async def offsets(self, group_id: str, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        wanted = set(partitions)
        async with self.transaction() as tx:
            rows = await tx.conn.fetch(
                "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1", group_id
            )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows if (r["topic"], r["partition"]) in wanted}
