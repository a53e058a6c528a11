"""`stagetrack privacy backfill`, the one-off for what was stored before personal fields were sealed: every lead
the store knows gets the data key the ingest would have found for it (its email hashes and CRM ids, linked as
the ingest links them), so an erasure of an earlier person deletes a key like anyone else's, and the rewritten
copy of the events topic (docs/privacy.md "Data stored before") seals their old events under it. Resumable: the
last lead done is kept in `privacy_backfill` with each batch; a rerun goes on after it.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.personal.identity import CRM, EMAIL_HASH
from services.common.personal.person_keys import PersonKeys

NAME = "person_keys"
BATCH = 500
_CURSOR = text("SELECT last_lead_id FROM privacy_backfill WHERE name = :name")
_NEXT = text(
    "SELECT lead_id, kind, value FROM lead_identities WHERE lead_id IN (SELECT DISTINCT lead_id FROM lead_identities"
    " WHERE lead_id > :after AND kind IN (:email, :crm) ORDER BY lead_id LIMIT :batch)"
    " AND kind IN (:email, :crm) ORDER BY lead_id, kind, value"
)
_SAVE = text(
    "INSERT INTO privacy_backfill (name, last_lead_id) VALUES (:name, :last)"
    " ON CONFLICT (name) DO UPDATE SET last_lead_id = excluded.last_lead_id"
)


async def backfill(db: AsyncEngine, keys: PersonKeys) -> int:
    """Leads keyed by this run."""
    async with db.connect() as conn:
        after = (await conn.execute(_CURSOR, {"name": NAME})).scalar() or ""
    done = 0
    while True:
        async with db.connect() as conn:
            rows = (await conn.execute(_NEXT, {"after": after, "batch": BATCH, "email": EMAIL_HASH, "crm": CRM})).all()
        if not rows:
            return done
        per_lead: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for lead_id, kind, value in rows:
            per_lead[lead_id].append((kind, value))
        await keys.keys_for(list(per_lead.values()))
        after = max(per_lead)
        async with db.begin() as conn:
            await conn.execute(_SAVE, {"name": NAME, "last": after})
        done += len(per_lead)
