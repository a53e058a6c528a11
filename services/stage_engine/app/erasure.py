"""`stagetrack erase` and POST /v1/erasures: a person is forgotten without changing a count.

One transaction, ordered after every engine batch committed before it (it takes the store's append lock): the
subject's leads (with every lead merged into or from them) and all their identities are found; every data key
those identities find is deleted with the keys linked to it, so the personal fields sealed on the topics can no
longer be opened; the identities leave the store, the dispatcher's and the connectors' tables; a receipt records
what was removed, without personal data. The stays, transitions, scores and amounts stay, so every KPI is the
same. Running it again finds nothing more to remove and records a receipt saying so (docs/privacy.md "Erasure").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.personal.identity import CRM, EMAIL_HASH, email_hash, subject_hash
from services.common.personal.key_statements import erase_keys
from services.stage_engine.adapters import erasure_statements as sql
from services.stage_engine.adapters.store import APPEND_LOCK

SubjectKind = Literal["email", "crm_id", "lead_id"]
_RECEIPT = text(
    "INSERT INTO erasure_receipts (subject_kind, subject_hash, lead_ids, keys_deleted, removed)"
    " VALUES (:kind, :hash, CAST(:leads AS text[]), :keys, CAST(:removed AS jsonb)) RETURNING id, erased_at"
)


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    value: str

    def identities(self, hash_key: bytes) -> set[tuple[str, str]]:
        if self.kind == "email":
            return {(EMAIL_HASH, email_hash(self.value, hash_key))}
        return {(CRM, self.value)} if self.kind == "crm_id" else set()


@dataclass(frozen=True)
class Receipt:
    id: int
    erased_at: datetime
    subject_kind: str
    subject_hash: str
    lead_ids: list[str]
    keys_deleted: int
    removed: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "erased_at": self.erased_at.isoformat()}


async def subject_leads(
    conn: AsyncConnection, subject: Subject, hash_key: bytes
) -> tuple[set[str], set[tuple[str, str]]]:
    """The subject's leads and every identity they or the subject hold (shared with export)."""
    identities = subject.identities(hash_key)
    leads = await sql.leads_of(conn, identities, [subject.value] if subject.kind == "lead_id" else [])
    return leads, identities | await sql.identities_of(conn, leads)


async def erase(db: AsyncEngine, subject: Subject, hash_key: bytes) -> Receipt:
    async with db.begin() as conn:
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:lock AS int), hashtext(current_schema()))"), {"lock": APPEND_LOCK}
        )
        leads, identities = await subject_leads(conn, subject, hash_key)
        keys = await erase_keys(conn, identities)
        removed = await sql.erase_elsewhere(conn, leads) | await sql.erase_store(conn, leads)
        hashed = subject_hash(
            subject.kind, subject.value.strip().lower() if subject.kind == "email" else subject.value, hash_key
        )
        row = (
            await conn.execute(
                _RECEIPT,
                {
                    "kind": subject.kind,
                    "hash": hashed,
                    "leads": sorted(leads),
                    "keys": len(keys),
                    "removed": orjson.dumps(removed).decode(),
                },
            )
        ).one()
    return Receipt(row.id, row.erased_at, subject.kind, hashed, sorted(leads), len(keys), removed)
