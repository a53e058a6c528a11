"""Revenue ledger queries: revenue by kind, attributed shares, and the per-customer sums behind NRR/GRR."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.domain.customer_success import RetentionSums
from services.kpi.domain.periods import Period

_BY_KIND = text(
    "SELECT kind, currency, count(*) AS n, sum(amount) AS amount FROM kpi_revenue "
    "WHERE occurred_at >= :start AND occurred_at < :end GROUP BY kind, currency"
)
_ATTRIBUTED = text(
    "SELECT r.kind, s.division, sum(s.amount) AS amount FROM kpi_revenue r "
    "JOIN kpi_revenue_shares s ON s.position = r.position "
    "WHERE r.occurred_at >= :start AND r.occurred_at < :end AND r.currency = :currency GROUP BY r.kind, s.division"
)
# Customer = the booking's account_id, else the lead that carries the person now (merged_into resolved).
# base = revenue in the previous period of equal length, now = revenue in P; cohort = customers with base > 0.
_RETENTION = text(
    """
    WITH RECURSIVE rev AS (
        SELECT lead_id, account_id, amount, occurred_at >= :start AS in_period FROM kpi_revenue
        WHERE occurred_at >= :base_start AND occurred_at < :end AND currency = :currency
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
               COALESCE(sum(r.amount) FILTER (WHERE NOT r.in_period), 0) AS base,
               COALESCE(sum(r.amount) FILTER (WHERE r.in_period), 0) AS now
        FROM rev r LEFT JOIN roots ON roots.origin = r.lead_id GROUP BY 1
    )
    SELECT count(*) AS cohort,
           count(*) FILTER (WHERE now > 0) AS retained,
           COALESCE(sum(base), 0) AS starting,
           COALESCE(sum(now), 0) AS current,
           COALESCE(sum(LEAST(now, base)), 0) AS gross
    FROM customers WHERE base > 0
    """
)


async def revenue_by_kind(conn: AsyncConnection, period: Period) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(kind, currency) -> (bookings, sum of amounts) in P."""
    params = {"start": period.start, "end": period.end}
    return {(r.kind, r.currency): (int(r.n), Decimal(r.amount)) for r in await conn.execute(_BY_KIND, params)}


async def attributed(conn: AsyncConnection, period: Period, currency: str) -> dict[tuple[str, str], Decimal]:
    """(kind, division) -> sum of the attributed shares of bookings in P in `currency`."""
    params = {"start": period.start, "end": period.end, "currency": currency}
    return {(r.kind, r.division): Decimal(r.amount) for r in await conn.execute(_ATTRIBUTED, params)}


async def retention(conn: AsyncConnection, period: Period, currency: str) -> RetentionSums:
    params = {"base_start": period.previous().start, "start": period.start, "end": period.end, "currency": currency}
    row = (await conn.execute(_RETENTION, params)).one()
    return RetentionSums(
        int(row.cohort), int(row.retained), Decimal(row.starting), Decimal(row.current), Decimal(row.gross)
    )
