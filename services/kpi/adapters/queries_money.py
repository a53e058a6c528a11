"""Revenue ledger queries: revenue by kind, attributed shares, and the per-customer sums behind NRR/GRR.

Each answers per slice of the scope (scope.py): a booking counts in its lead's (person's) slice; a customer of
the retention sums in the slice of the person behind its earliest booking of the two periods compared, so
that each customer, with all its revenue, is in exactly one slice.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import WHOLE, Scope
from services.kpi.domain.customer_success import RetentionSums
from services.kpi.domain.periods import Period

Slice = str | None

_BY_KIND = (
    "SELECT {key} AS slice, kind, currency, count(*) AS n, sum(amount) AS amount FROM kpi_revenue r "
    "WHERE occurred_at >= :start AND occurred_at < :end AND {where} GROUP BY 1, 2, 3"
)
_ATTRIBUTED = (
    "SELECT {key} AS slice, r.kind, s.division, sum(s.amount) AS amount FROM kpi_revenue r "
    "JOIN kpi_revenue_shares s ON s.position = r.position "
    "WHERE r.occurred_at >= :start AND r.occurred_at < :end AND r.currency = :currency AND {where} GROUP BY 1, 2, 3"
)
# Customer = the booking's account_id, else the lead that carries the person now (merged_into resolved).
# base = revenue in the previous period of equal length, now = revenue in P; cohort = customers with base > 0.
_RETENTION = """
    WITH RECURSIVE rev AS (
        SELECT position, lead_id, account_id, amount, occurred_at, occurred_at >= :start AS in_period
        FROM kpi_revenue WHERE occurred_at >= :base_start AND occurred_at < :end AND currency = :currency
    ), chain AS (
        SELECT l.lead_id AS origin, l.lead_id, l.merged_into, 0 AS depth
        FROM kpi_leads l WHERE l.lead_id IN (SELECT lead_id FROM rev)
        UNION ALL
        SELECT c.origin, l.lead_id, l.merged_into, c.depth + 1
        FROM chain c JOIN kpi_leads l ON l.lead_id = c.merged_into WHERE c.depth < 64
    ), roots AS (
        SELECT origin, lead_id AS root FROM chain WHERE merged_into IS NULL
    ), customers AS (
        SELECT COALESCE('account:' || r.account_id, 'lead:' || COALESCE(roots.root, r.lead_id)) AS customer,
               (array_agg(r.lead_id ORDER BY r.occurred_at, r.position))[1] AS first_lead,
               COALESCE(sum(r.amount) FILTER (WHERE NOT r.in_period), 0) AS base,
               COALESCE(sum(r.amount) FILTER (WHERE r.in_period), 0) AS now
        FROM rev r LEFT JOIN roots ON roots.origin = r.lead_id GROUP BY 1
    )
    SELECT {key} AS slice,
           count(*) AS cohort,
           count(*) FILTER (WHERE now > 0) AS retained,
           COALESCE(sum(base), 0) AS starting,
           COALESCE(sum(now), 0) AS current,
           COALESCE(sum(LEAST(now, base)), 0) AS gross
    FROM customers c WHERE base > 0 AND {where} GROUP BY 1
"""


async def revenue_by_kind(
    conn: AsyncConnection, period: Period, scope: Scope = WHOLE
) -> dict[Slice, dict[tuple[str, str], tuple[int, Decimal]]]:
    """slice -> (kind, currency) -> (bookings, sum of amounts) in P."""
    params = scope.bind({"start": period.start, "end": period.end})
    found: dict[Slice, dict[tuple[str, str], tuple[int, Decimal]]] = defaultdict(dict)
    for r in await conn.execute(scope.sql(_BY_KIND, "r.lead_id"), params):
        found[r.slice][(r.kind, r.currency)] = (int(r.n), Decimal(r.amount))
    return dict(found)


async def attributed(
    conn: AsyncConnection, period: Period, currency: str, scope: Scope = WHOLE
) -> dict[Slice, dict[tuple[str, str], Decimal]]:
    """slice -> (kind, division) -> sum of the attributed shares of bookings in P in `currency`."""
    params = scope.bind({"start": period.start, "end": period.end, "currency": currency})
    found: dict[Slice, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for r in await conn.execute(scope.sql(_ATTRIBUTED, "r.lead_id"), params):
        found[r.slice][(r.kind, r.division)] = Decimal(r.amount)
    return dict(found)


async def retention(
    conn: AsyncConnection, period: Period, currency: str, scope: Scope = WHOLE
) -> dict[Slice, RetentionSums]:
    params = {"base_start": period.previous().start, "start": period.start, "end": period.end, "currency": currency}
    found = {}
    for row in await conn.execute(scope.sql(_RETENTION, "c.first_lead"), scope.bind(params)):
        found[row.slice] = RetentionSums(
            int(row.cohort), int(row.retained), Decimal(row.starting), Decimal(row.current), Decimal(row.gross)
        )
    return found
