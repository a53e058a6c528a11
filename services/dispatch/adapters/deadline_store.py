"""The SLA watch's reads and writes of dispatch_sla_deadlines, inside its transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.dispatch.domain.lead_facts import Deadline


@dataclass(frozen=True, slots=True)
class DueDeadline:
    lead_id: str
    deadline: Deadline
    crm_ids: tuple[str, ...]
    source: str | None = None


async def take_due(conn: asyncpg.Connection, cutoffs: Mapping[int, datetime], limit: int) -> list[DueDeadline]:
    """Locks and deletes up to `limit` deadlines of the given partitions due at or before their cutoff (another
    dispatcher's watch skips the locked ones); they are gone once the transaction commits."""
    if not cutoffs:
        return []
    rows = await conn.fetch(
        "DELETE FROM dispatch_sla_deadlines WHERE lead_id IN ("
        "  SELECT d.lead_id FROM dispatch_sla_deadlines d"
        "  JOIN unnest($1::int[], $2::timestamptz[]) AS c(partition, cutoff)"
        "    ON c.partition = d.partition AND d.due_at <= c.cutoff"
        "  ORDER BY d.due_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED) "
        "RETURNING lead_id, stage, sla_id, due_at, partition, "
        "  (SELECT crm_ids FROM dispatch_leads l WHERE l.lead_id = dispatch_sla_deadlines.lead_id) AS crm_ids, "
        "  (SELECT source FROM dispatch_leads l WHERE l.lead_id = dispatch_sla_deadlines.lead_id) AS source",
        list(cutoffs),
        list(cutoffs.values()),
        limit,
    )
    return [
        DueDeadline(
            r["lead_id"],
            Deadline(r["stage"], r["sla_id"], r["due_at"], r["partition"]),
            tuple(r["crm_ids"] or ()),
            r["source"],
        )
        for r in sorted(rows, key=lambda r: (r["due_at"], r["lead_id"]))
    ]
