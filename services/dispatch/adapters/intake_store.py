"""The intake's reads and writes, on an asyncpg connection inside the batch's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.dispatch.adapters import delivery_order
from services.dispatch.domain.lead_facts import Deadline, LeadFacts
from services.dispatch.domain.outgoing import NewDelivery


@dataclass(frozen=True, slots=True)
class SetAside:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str


async def load_facts(conn: asyncpg.Connection, lead_ids: Sequence[str]) -> dict[str, LeadFacts]:
    rows = await conn.fetch(
        "SELECT l.lead_id, l.last_position, l.stage, l.division, l.crm_ids, l.source, "
        "d.stage AS d_stage, d.sla_id, d.due_at, d.partition FROM unnest($1::text[]) AS w(lead_id) "
        "JOIN dispatch_leads l ON l.lead_id = w.lead_id "
        "LEFT JOIN dispatch_sla_deadlines d ON d.lead_id = l.lead_id",
        list(lead_ids),
    )
    facts = {}
    for r in rows:
        deadline = None if r["due_at"] is None else Deadline(r["d_stage"], r["sla_id"], r["due_at"], r["partition"])
        facts[r["lead_id"]] = LeadFacts(
            r["lead_id"], r["last_position"], r["stage"], r["division"], tuple(r["crm_ids"]), deadline, r["source"]
        )
    return facts


async def save_facts(conn: asyncpg.Connection, before: Mapping[str, LeadFacts], after: Iterable[LeadFacts]) -> None:
    """Writes the leads the batch changed, and their deadlines where they changed."""
    changed = [f for f in after if before.get(f.lead_id) != f]
    if not changed:
        return
    await conn.executemany(
        "INSERT INTO dispatch_leads (lead_id, last_position, stage, division, crm_ids, source) "
        "VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (lead_id) DO UPDATE SET last_position = excluded.last_position, stage = excluded.stage, "
        "division = excluded.division, crm_ids = excluded.crm_ids, source = excluded.source",
        [(f.lead_id, f.last_position, f.stage, f.division, list(f.crm_ids), f.source) for f in changed],
    )
    moved = [f for f in changed if (before.get(f.lead_id) or LeadFacts(f.lead_id)).deadline != f.deadline]
    gone = [f.lead_id for f in moved if f.deadline is None]
    if gone:
        await conn.execute("DELETE FROM dispatch_sla_deadlines WHERE lead_id = ANY($1::text[])", gone)
    opened = [(f.lead_id, f.deadline) for f in moved if f.deadline is not None]
    if opened:
        await conn.executemany(
            "INSERT INTO dispatch_sla_deadlines (lead_id, stage, sla_id, due_at, partition) "
            "VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (lead_id) DO UPDATE SET stage = excluded.stage, sla_id = excluded.sla_id, "
            "due_at = excluded.due_at, partition = excluded.partition",
            [(lead, d.stage, d.sla_id, d.due_at, d.partition) for lead, d in opened],
        )


async def queue_deliveries(conn: asyncpg.Connection, deliveries: Sequence[NewDelivery], horizon: timedelta) -> int:
    """Inserts the deliveries in order (their ids keep each lead's order), each due only once it is the oldest
    pending one of its (endpoint, lead) (`delivery_order`); one already queued (its webhook-id) is skipped.
    Returns how many it made due."""
    if not deliveries:
        return 0
    pairs = [(d.endpoint, d.lead_id) for d in deliveries]
    await delivery_order.lock_pairs(conn, pairs)
    await conn.executemany(
        "INSERT INTO dispatch_deliveries (webhook_id, moment_id, moment_kind, endpoint, lead_id, body, recorded_at, "
        "next_attempt_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'infinity', now() + $8::interval) "
        "ON CONFLICT (webhook_id) DO NOTHING",
        [
            (d.webhook_id, d.moment_id, d.moment_kind, d.endpoint, d.lead_id, d.body, d.recorded_at, horizon)
            for d in deliveries
        ],
    )
    return await delivery_order.promote(conn, pairs)


async def set_aside(conn: asyncpg.Connection, records: Sequence[SetAside]) -> None:
    if records:
        await conn.executemany(
            'INSERT INTO dispatch_set_aside (topic, partition, "offset", key, value, reason) '
            "VALUES ($1, $2, $3, $4, $5, $6) "
            'ON CONFLICT (topic, partition, "offset") DO UPDATE SET reason = excluded.reason',
            [(r.topic, r.partition, r.offset, r.key, r.value, r.reason) for r in records],
        )


async def stored_offsets(conn: asyncpg.Connection, group: str, topic: str) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM dispatch_offsets WHERE group_id = $1 AND topic = $2", group, topic
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def store_offsets(conn: asyncpg.Connection, group: str, topic: str, offsets: Mapping[int, int]) -> None:
    if offsets:
        await conn.executemany(
            "INSERT INTO dispatch_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            [(group, topic, partition, offset) for partition, offset in offsets.items()],
        )
