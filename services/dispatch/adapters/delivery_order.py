"""Each lead's order per endpoint: only the oldest pending delivery of an (endpoint, lead) pair is due.

A delivery is queued not due (`next_attempt_at` = infinity) and becomes due ("promoted", `now()`) when it is the
oldest pending one of its pair: at once when nothing of the pair waits, else when the one in front is delivered
or dead-lettered. So the deliverer's claim reads only due rows (an index range), however many moments wait
behind a failing receiver. Whoever queues or finishes deliveries of a pair holds the pair's advisory lock to the
end of its transaction, so a delivery queued while the one in front finishes is never left waiting unpromoted.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

LOCK_SPACE = 0x5D15  # the first key of the pairs' advisory locks (the second is a hash of the pair)

_LOCK = """
SELECT pg_advisory_xact_lock($3::int, hashtext(pair)) FROM (
    SELECT DISTINCT endpoint || ' ' || lead_id AS pair FROM unnest($1::text[], $2::text[]) AS w(endpoint, lead_id)
    ORDER BY 1
) AS pairs
"""

_PROMOTE = """
UPDATE dispatch_deliveries d SET next_attempt_at = now()
FROM (
    SELECT DISTINCT ON (p.endpoint, p.lead_id) p.id FROM dispatch_deliveries p
    JOIN unnest($1::text[], $2::text[]) AS w(endpoint, lead_id) ON p.endpoint = w.endpoint AND p.lead_id = w.lead_id
    WHERE p.state = 'pending' ORDER BY p.endpoint, p.lead_id, p.id
) AS first
WHERE d.id = first.id AND d.next_attempt_at = 'infinity'
"""


def _columns(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    unique = sorted(set(pairs))
    return [endpoint for endpoint, _ in unique], [lead for _, lead in unique]


async def lock_pairs(conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """Takes the (endpoint, lead) pairs' locks, in one order everywhere (no deadlock); held to the transaction's end."""
    endpoints, leads = _columns(pairs)
    if endpoints:
        await conn.execute(_LOCK, endpoints, leads, LOCK_SPACE)


async def promote(conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]]) -> int:
    """Makes the oldest pending delivery of each pair due, when it is still waiting behind another; returns how many
    it made due."""
    endpoints, leads = _columns(pairs)
    if not endpoints:
        return 0
    return int((await conn.execute(_PROMOTE, endpoints, leads)).split()[-1])
