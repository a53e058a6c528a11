"""The deliverer's reads and writes of dispatch_deliveries and dispatch_attempts (asyncpg).

Claiming takes only due deliveries, and only each (endpoint, lead)'s oldest pending one is due
(`delivery_order.py`), so a lead's moments reach an endpoint in the order they were queued; a delivery that is
delivered or dead-lettered lets the next one through. (A re-sent one is older than the pair's current head: the
claim's NOT EXISTS lets it go first.) A claim is a lease (`lease_until`): a dispatcher killed mid-send leaves
it to expire, and the delivery is sent again with the same webhook-id. Two dispatchers never hold the same
lease: the UPDATE re-checks it on the locked row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.dispatch.adapters import delivery_order


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    webhook_id: str
    endpoint: str
    lead_id: str
    moment_kind: str
    body: bytes
    recorded_at: datetime
    attempts: int  # made before this one
    expires_at: datetime


_CLAIM = """
WITH due AS (
    SELECT d.id, d.endpoint, d.lead_id, d.next_attempt_at FROM dispatch_deliveries d
    WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND d.endpoint = ANY($1::text[])
      AND (d.lease_until IS NULL OR d.lease_until < now())
    ORDER BY d.next_attempt_at, d.id LIMIT $5
), heads AS (
    SELECT due.id, due.next_attempt_at,
           row_number() OVER (PARTITION BY due.endpoint ORDER BY due.next_attempt_at, due.id) AS rank, b.n
    FROM due JOIN unnest($1::text[], $2::int[]) AS b(endpoint, n) ON b.endpoint = due.endpoint
    WHERE NOT EXISTS (
        SELECT 1 FROM dispatch_deliveries e
        WHERE e.state = 'pending' AND e.endpoint = due.endpoint AND e.lead_id = due.lead_id AND e.id < due.id)
), chosen AS (
    SELECT id FROM heads WHERE rank <= n ORDER BY next_attempt_at, id LIMIT $3
)
UPDATE dispatch_deliveries u SET lease_until = now() + $4::interval
FROM chosen WHERE u.id = chosen.id AND u.state = 'pending' AND (u.lease_until IS NULL OR u.lease_until < now())
RETURNING u.id, u.webhook_id, u.endpoint, u.lead_id, u.moment_kind, u.body, u.recorded_at, u.attempts, u.expires_at
"""

# The intake's hand-over: of the deliveries it just queued, the due heads of their pairs (no older one of the pair
# pending), within the room the deliverer reserved per endpoint, oldest first; leased in the intake's transaction.
_LEASE_QUEUED = """
WITH heads AS (
    SELECT d.id, row_number() OVER (PARTITION BY d.endpoint ORDER BY d.id) AS rank, b.n
    FROM dispatch_deliveries d JOIN unnest($2::text[], $3::int[]) AS b(endpoint, n) ON b.endpoint = d.endpoint
    WHERE d.webhook_id = ANY($1::text[]) AND d.state = 'pending' AND d.next_attempt_at <= now()
      AND d.lease_until IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM dispatch_deliveries e
        WHERE e.state = 'pending' AND e.endpoint = d.endpoint AND e.lead_id = d.lead_id AND e.id < d.id)
), chosen AS (
    SELECT id FROM heads WHERE rank <= n
)
UPDATE dispatch_deliveries u SET lease_until = now() + $4::interval
FROM chosen WHERE u.id = chosen.id
RETURNING u.id, u.webhook_id, u.endpoint, u.lead_id, u.moment_kind, u.body, u.recorded_at, u.attempts, u.expires_at
"""

# One statement for a round's attempts (one round trip, atomic): the deliveries' new states and the attempts' rows.
_RECORD = """
WITH o AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                         $6::float8[], $7::int[]) AS o(id, state, error, next_at, started_at, duration, status)
), updated AS (
    UPDATE dispatch_deliveries d SET attempts = d.attempts + 1, lease_until = NULL, state = o.state,
        last_error = CASE WHEN o.state = 'delivered' THEN d.last_error ELSE o.error END,
        next_attempt_at = coalesce(o.next_at, d.next_attempt_at),
        finished_at = CASE WHEN o.state = 'pending' THEN NULL ELSE now() END
    FROM o WHERE d.id = o.id AND d.state = 'pending'
    RETURNING d.id, d.attempts, o.started_at, o.duration, o.status, o.error
)
INSERT INTO dispatch_attempts (delivery_id, attempt, started_at, duration_seconds, status, error)
SELECT id, attempts, started_at, duration, status, error FROM updated ON CONFLICT DO NOTHING
"""


async def claim(conn: asyncpg.Connection, budgets: Mapping[str, int], limit: int, lease: timedelta) -> list[Claimed]:
    """Leases at most `limit` due head deliveries, at most `budgets[endpoint]` per endpoint, oldest due first."""
    wanted = {endpoint: n for endpoint, n in budgets.items() if n > 0}
    limit = min(limit, sum(wanted.values()))
    if limit <= 0:
        return []
    # Only the first due rows are looked at (bounded work per claim however long the backlog): due rows are heads
    # but for a re-sent delivery's pair, so twice the claim is plenty.
    rows = await conn.fetch(_CLAIM, list(wanted), list(wanted.values()), limit, lease, 2 * limit + 16)
    claimed = [Claimed(**dict(r)) for r in rows]
    return sorted(claimed, key=lambda c: c.id)


async def lease_queued(
    conn: asyncpg.Connection, webhook_ids: Sequence[str], room: Mapping[str, int], lease: timedelta
) -> list[Claimed]:
    """Leases, of the deliveries `webhook_ids` just queued in this transaction, those due now as the oldest pending
    one of their (endpoint, lead), at most `room[endpoint]` per endpoint; the caller sends them once it committed."""
    wanted = {endpoint: n for endpoint, n in room.items() if n > 0}
    if not webhook_ids or not wanted:
        return []
    rows = await conn.fetch(_LEASE_QUEUED, list(webhook_ids), list(wanted), list(wanted.values()), lease)
    return sorted((Claimed(**dict(r)) for r in rows), key=lambda c: c.id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result and what comes next: `state` pending (with `next_attempt_at`), delivered or failed."""

    delivery: Claimed
    started_at: datetime
    duration_seconds: float
    status: int | None
    error: str | None
    state: str
    next_attempt_at: datetime | None


async def record_attempts(conn: asyncpg.Connection, outcomes: Sequence[Outcome]) -> int:
    """The attempts' rows and their deliveries' new states, in one transaction; a delivery finished lets the next
    of its lead through. Returns how many deliveries that made due."""
    if not outcomes:
        return 0
    # One row per delivery (two outcomes of one: a re-claim after rounds that could not reach PostgreSQL).
    latest = list({o.delivery.id: o for o in outcomes}.values())
    finished = [(o.delivery.endpoint, o.delivery.lead_id) for o in latest if o.state != "pending"]
    async with conn.transaction():
        await delivery_order.lock_pairs(conn, finished)  # a retry changes no pair's order: only finished ones lock
        await conn.execute(
            _RECORD,
            [o.delivery.id for o in latest],
            [o.state for o in latest],
            [o.error for o in latest],
            [o.next_attempt_at for o in latest],
            [o.started_at for o in latest],
            [o.duration_seconds for o in latest],
            [o.status for o in latest],
        )
        return await delivery_order.promote(conn, finished)


async def fail_unconfigured(conn: asyncpg.Connection, configured: Sequence[str]) -> int:
    """Dead-letters the pending deliveries of endpoints no longer in the subscriptions file (resendable once
    the endpoint is back in it)."""
    result = await conn.execute(
        "UPDATE dispatch_deliveries SET state = 'failed', finished_at = now(), lease_until = NULL, "
        "last_error = 'endpoint ' || endpoint || ' is not in the subscriptions file' "
        "WHERE state = 'pending' AND endpoint <> ALL($1::text[])",
        list(configured),
    )
    return int(result.split()[-1])


async def fail_expired(conn: asyncpg.Connection, endpoints: Sequence[str]) -> list[str]:
    """Dead-letters the pending deliveries of (paused) endpoints whose horizon passed; returns their endpoints."""
    async with conn.transaction():
        pairs = await conn.fetch(
            "SELECT DISTINCT endpoint, lead_id FROM dispatch_deliveries "
            "WHERE state = 'pending' AND endpoint = ANY($1::text[]) AND expires_at <= now()",
            list(endpoints),
        )
        if not pairs:
            return []
        pending = [(r["endpoint"], r["lead_id"]) for r in pairs]
        await delivery_order.lock_pairs(conn, pending)
        rows = await conn.fetch(
            "UPDATE dispatch_deliveries d SET state = 'failed', finished_at = now(), "
            "last_error = 'the endpoint was paused past the retry horizon; last error: ' "
            "|| coalesce(last_error, 'none') "
            "FROM unnest($1::text[], $2::text[]) AS w(endpoint, lead_id) "
            "WHERE d.endpoint = w.endpoint AND d.lead_id = w.lead_id AND d.state = 'pending' "
            "AND d.expires_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now()) RETURNING d.endpoint",
            [e for e, _ in pending],
            [lead for _, lead in pending],
        )
        await delivery_order.promote(conn, pending)
    return [r["endpoint"] for r in rows]
