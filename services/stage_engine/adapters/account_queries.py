"""Read side of the store for GET /v1/accounts/{id}: the people whose account is `id` now, with their state.

Candidates are the leads a DimensionsSet ever gave the account (ix_lead_events_dimension_values, migration 0011,
holds only those events); each is followed along `merged_into` to the lead that carries the person now, whose
state (lead_snapshots) must still hold the account: a person who moved to another account is not in the group.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_PEOPLE = text(
    """
    WITH RECURSIVE candidates AS (
        SELECT DISTINCT lead_id FROM lead_events
        WHERE type = 'DimensionsSet' AND data -> 'values' @> CAST(:pair AS jsonb)
    ), up(lead_id, depth) AS (
        SELECT lead_id, 0 FROM candidates
        UNION
        SELECT s.state ->> 'merged_into', up.depth + 1 FROM up JOIN lead_snapshots s ON s.lead_id = up.lead_id
        WHERE s.state ->> 'merged_into' IS NOT NULL AND up.depth < 64
    )
    SELECT DISTINCT s.state::text AS state FROM up JOIN lead_snapshots s ON s.lead_id = up.lead_id
    WHERE s.state ->> 'merged_into' IS NULL
    """
)


async def people_of_account(engine: AsyncEngine, dimension: str, account: str) -> list[dict[str, Any]]:
    """The live leads whose value of `dimension` is `account` now, as their snapshot states, in one snapshot."""
    pair = orjson.dumps([[dimension, account]]).decode()
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        rows = (await conn.execute(_PEOPLE, {"pair": pair})).scalars().all()
    states = [orjson.loads(row) for row in rows]
    return [s for s in states if any(d[0] == dimension and d[1] == account for d in s.get("dimensions", ()))]
