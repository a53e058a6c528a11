"""`stagetrack privacy rewrap`: every data key wrapped by another master key than the current one is unwrapped and
wrapped again by the current one, in batches, each its own transaction (an interrupted run resumes where it
stopped: the keys it did are wrapped by the current key). After it, the old master key can leave the settings."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.personal.sealing import MasterKeys

BATCH = 1000
_OLD = text(
    "SELECT key_id, master_key_id, wrapped FROM person_keys WHERE master_key_id <> :current"
    " ORDER BY key_id LIMIT :batch FOR UPDATE SKIP LOCKED"
)
_REWRAPPED = text("UPDATE person_keys SET master_key_id = :master, wrapped = :wrapped WHERE key_id = :key_id")


async def rewrap(db: AsyncEngine, master: MasterKeys) -> int:
    done = 0
    while True:
        async with db.begin() as conn:
            rows = (await conn.execute(_OLD, {"current": master.current, "batch": BATCH})).all()
            for key_id, master_id, wrapped in rows:
                new_master, new_wrapped = master.wrap(key_id, master.unwrap(master_id, key_id, bytes(wrapped)))
                await conn.execute(_REWRAPPED, {"master": new_master, "wrapped": new_wrapped, "key_id": key_id})
        done += len(rows)
        if len(rows) < BATCH:
            return done
