"""Read side of the lead view's activity: the counted views, the score changes and when the lead was identified.

Each takes the connection of `lead_queries.lead_history`, so the lead, its history and these are read in one
snapshot (the score and its itemised changes agree).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.stage_engine.domain.lead import ANONYMOUS


class ActivityRow(NamedTuple):
    kind: str
    phase: str
    key: str
    campaign: str
    views: int
    first_seen: datetime
    last_seen: datetime


class ScoreChange(NamedTuple):
    lead_id: str  # the stream it was recorded on (the lead's own, or one merged into it)
    position: int
    cause_event_id: str
    cause_type: str | None  # None on rows stored before the cause's type was kept
    occurred_at: str  # as stored in the event
    rule: str
    points: int


async def streams_of(conn: AsyncConnection, lead_id: str) -> list[str]:
    """The lead and every lead merged into it, also through leads merged into those (A into B, then B into C)."""
    rows = await conn.execute(
        text(
            "WITH RECURSIVE streams(lead_id) AS (SELECT CAST(:i AS text) UNION SELECT e.data->>'absorbed_id' "
            "FROM lead_events e JOIN streams s ON e.lead_id = s.lead_id "
            "WHERE e.type = 'LeadsMerged' AND e.data->>'role' = 'survivor') SELECT lead_id FROM streams"
        ),
        {"i": lead_id},
    )
    return [r[0] for r in rows]


async def activity_rows(conn: AsyncConnection, lead_id: str) -> list[ActivityRow]:
    """Every counter of the lead (bounded: 2 kinds x 2 phases x (the cap + 1))."""
    rows = await conn.execute(
        text("SELECT kind, phase, key, campaign, views, first_seen, last_seen FROM lead_activity WHERE lead_id = :i"),
        {"i": lead_id},
    )
    return [ActivityRow(*r) for r in rows]


async def score_changes(conn: AsyncConnection, streams: list[str], latest: int) -> tuple[list[ScoreChange], int, int]:
    """The `latest` score changes of the streams, oldest first, with how many there are and their points in all."""
    rows = await conn.execute(
        text(
            "SELECT lead_id, position, cause_event_id, cause_type, data->>'occurred_at', data->>'rule', "
            "(data->>'delta')::int FROM lead_events WHERE lead_id = ANY(:ids) AND type = 'ScoreChanged' "
            "ORDER BY position DESC LIMIT :n"
        ),
        {"ids": streams, "n": latest},
    )
    changes = [ScoreChange(*r) for r in rows][::-1]
    totals = await conn.execute(
        text(
            "SELECT count(*), coalesce(sum((data->>'delta')::int), 0) FROM lead_events "
            "WHERE lead_id = ANY(:ids) AND type = 'ScoreChanged'"
        ),
        {"ids": streams},
    )
    count, points = totals.one()
    return changes, int(count), int(points)


async def identification(conn: AsyncConnection, streams: list[str]) -> dict[str, Any] | None:
    """The first identity that is not anonymous (an email hash or a CRM id) linked to any of the streams: its kind
    and event time; None while the lead is anonymous."""
    row = (
        await conn.execute(
            text(
                "SELECT data->>'kind', data->>'occurred_at', cause_event_id FROM lead_events "
                "WHERE lead_id = ANY(:ids) AND type = 'IdentityLinked' AND data->>'kind' <> :anonymous "
                "ORDER BY occurred_at, position LIMIT 1"
            ),
            {"ids": streams, "anonymous": ANONYMOUS},
        )
    ).first()
    return None if row is None else {"by": row[0], "at": row[1], "cause_event_id": row[2]}
