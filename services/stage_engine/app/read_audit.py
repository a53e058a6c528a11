"""The audit of reads: every lead the API answers is recorded with the key that asked and when (`lead_reads`),
so a data-protection officer can say who saw a person's record (docs/privacy.md "What an auditor can check")."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.personal.tables import lead_reads


async def record_read(db: AsyncEngine, api_key_id: int, *lead_ids: str) -> None:
    if lead_ids:
        async with db.begin() as conn:
            await conn.execute(insert(lead_reads), [{"api_key_id": api_key_id, "lead_id": lead} for lead in lead_ids])
