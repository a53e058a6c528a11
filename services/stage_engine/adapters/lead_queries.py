"""Read side of the store for GET /v1/leads/{id}: the lead, every stage change that explains it, and its activity."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.adapters.lead_activity_queries import (
    activity_rows,
    identification,
    score_changes,
    streams_of,
)
from services.stage_engine.domain.lead import ANONYMOUS, CRM


async def lead_history(engine: AsyncEngine, any_id: str, score_changes_shown: int = 50) -> dict[str, Any] | None:
    """By internal id, CRM lead id or anonymous id; an absorbed lead answers with its survivor. None when unknown.
    With its activity (`lead_activity_queries`): read in one snapshot, so the score and its changes agree."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        state = await conn.scalar(text("SELECT state FROM lead_snapshots WHERE lead_id = :i"), {"i": any_id})
        if state is None:
            owner = await conn.scalar(
                text(
                    "SELECT lead_id FROM lead_identities WHERE value = :v AND kind IN (:crm, :anon) "
                    "ORDER BY kind = :crm DESC LIMIT 1"
                ),
                {"v": any_id, "crm": CRM, "anon": ANONYMOUS},
            )
            if owner is None:
                return None
            state = await conn.scalar(text("SELECT state FROM lead_snapshots WHERE lead_id = :i"), {"i": owner})
        lead = _json(state)
        while lead.get("merged_into"):
            lead = _json(
                await conn.scalar(
                    text("SELECT state FROM lead_snapshots WHERE lead_id = :i"), {"i": lead["merged_into"]}
                )
            )
        absorbed = (
            (
                await conn.execute(
                    text(
                        "SELECT data->>'absorbed_id' FROM lead_events WHERE lead_id = :i AND type = 'LeadsMerged' "
                        "AND data->>'role' = 'survivor' ORDER BY position"
                    ),
                    {"i": lead["lead_id"]},
                )
            )
            .scalars()
            .all()
        )
        rows = (
            await conn.execute(
                text(
                    "SELECT lead_id, position, data FROM lead_events WHERE lead_id = ANY(:ids) "
                    "AND type IN ('StageChanged', 'LeadsMerged') ORDER BY position"
                ),
                {"ids": [lead["lead_id"], *absorbed]},
            )
        ).all()
        streams = await streams_of(conn, lead["lead_id"])
        activity = await activity_rows(conn, lead["lead_id"])
        changes = await score_changes(conn, streams, score_changes_shown)
        identified = await identification(conn, streams)
    return {
        "lead": lead,
        "absorbed": list(absorbed),
        "events": [(r[0], r[1], _json(r[2])) for r in rows],
        "activity": activity,
        "score_changes": changes,
        "identification": identified,
    }


def _json(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(orjson.loads(value))
