"""The ingest's key store under concurrency, on the real PostgreSQL: requests in flight together that name one
new person get one key; two ingest processes (two stores) that create keys for one person at once link them; a
store that lingers keeps one connection for requests in a row and gives it back on close."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from services.common.personal.person_keys import PersonKeys
from services.common.personal.sealing import MasterKeys
from services.ingest.app.settings import IngestSettings

MASTER = MasterKeys({"m": os.urandom(32)}, "m")


async def groups(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text("SELECT key_id, group_id FROM person_keys"))]


async def test_requests_in_flight_together_naming_one_new_person_get_one_key(
    ingest_settings: IngestSettings, engine: AsyncEngine
) -> None:
    keys = PersonKeys(engine, MASTER)
    email, crm = ("email_hash", "h-new"), ("crm", "L-new")
    form, crm_call, other = await asyncio.gather(
        keys.keys_for([[email]]), keys.keys_for([[email, crm]]), keys.keys_for([[("crm", "L-other")]])
    )
    assert form == crm_call != other
    assert len(await groups(engine)) == 2, "one key for the person the first two requests name, one for the other"


async def test_two_ingest_processes_creating_one_persons_key_at_once_link_their_keys(
    ingest_settings: IngestSettings, engine: AsyncEngine
) -> None:
    email = ("email_hash", "h-raced")
    for n in range(10):  # two stores (two processes) racing: whichever loses links its key to the winner's
        first, second = PersonKeys(engine, MASTER), PersonKeys(engine, MASTER)
        identities = [email, ("crm", f"L-raced-{n}")]
        one, two = await asyncio.gather(first.keys_for([identities[:1]]), second.keys_for([identities]))
        assert len({group for _, group in await groups(engine)}) == 1, "every key of the person in one group"
    stored = dict(await groups(engine))
    assert one[0][0] in stored and two[0][0] in stored


async def test_a_lingering_store_keeps_its_connection_for_requests_in_a_row_and_gives_it_back_on_close(
    ingest_settings: IngestSettings, engine: AsyncEngine
) -> None:
    keys = PersonKeys(engine, MASTER, linger_seconds=30)
    checkouts: list[object] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *args: checkouts.append(args[0]))
    for n in range(3):
        await keys.keys_for([[("crm", f"L-row-{n}")]])
    assert len(checkouts) == 1, "one connection for the three requests"
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool) and pool.checkedout() == 1
    await keys.close()
    assert pool.checkedout() == 0
