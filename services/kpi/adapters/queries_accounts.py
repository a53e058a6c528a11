"""Account queries (/v1/kpi/accounts, domain/accounts.py): the instants each account's level rose, its revenue,
and the retention sums with accounts as the customers.

An account's leads: those whose person's value of the account dimension is the account (kpi_lead_values). An
account's slice (by= and filters): the values of its **first lead**, the one with the earliest stay (ties: the
smaller id), so that an account, with all its people and revenue, is in exactly one slice. Cost: every stay
and booking of the leads that have an account (not only the period's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kpi.adapters.scope import Scope
from services.kpi.domain.accounts import Step
from services.kpi.domain.customer_success import RetentionSums
from services.kpi.domain.periods import Period

Slice = str | None
_ACCOUNTS = """
WITH members AS MATERIALIZED (
    SELECT value AS account, lead_id FROM kpi_lead_values WHERE dimension = :account_dimension
), firsts AS (
    SELECT DISTINCT ON (m.account) m.account, m.lead_id AS first_lead
    FROM members m JOIN kpi_stays s ON s.lead_id = m.lead_id ORDER BY m.account, s.entered_at, m.lead_id
), accounts AS MATERIALIZED (
    SELECT account, {key} AS slice FROM firsts f WHERE {where}
)
"""
# The level of each account at each instant one of its leads entered a success-path stage, kept where it rose.
_STEPS = (
    _ACCOUNTS
    + """, levels AS (
    SELECT a.slice, a.account, s.entered_at AS at, max(p.idx) AS level
    FROM accounts a JOIN members m ON m.account = a.account JOIN kpi_stays s ON s.lead_id = m.lead_id
    JOIN unnest(CAST(:stages AS text[]), CAST(:indexes AS int[])) AS p(stage, idx) ON p.stage = s.stage
    GROUP BY 1, 2, 3
), running AS (
    SELECT slice, account, at, level,
           max(level) OVER (PARTITION BY account ORDER BY at ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM levels
)
SELECT slice, account, at, level, before FROM running WHERE before IS NULL OR level > before ORDER BY account, at
"""
)
_BOOKED = "accounts a JOIN members m ON m.account = a.account JOIN kpi_revenue r ON r.lead_id = m.lead_id"
_BY_KIND = (
    _ACCOUNTS + f"SELECT a.slice, r.kind, r.currency, count(*) AS n, sum(r.amount) AS amount FROM {_BOOKED} "
    "WHERE r.occurred_at >= :start AND r.occurred_at < :end GROUP BY 1, 2, 3"
)
_ATTRIBUTED = (
    _ACCOUNTS + f"SELECT a.slice, r.kind, s.division, sum(s.amount) AS amount FROM {_BOOKED} "
    "JOIN kpi_revenue_shares s ON s.position = r.position "
    "WHERE r.occurred_at >= :start AND r.occurred_at < :end AND r.currency = :currency GROUP BY 1, 2, 3"
)
_RETENTION = (
    _ACCOUNTS
    + f""", rev AS (
    SELECT a.slice, a.account, r.amount, r.occurred_at >= :start AS in_period FROM {_BOOKED}
    WHERE r.occurred_at >= :base_start AND r.occurred_at < :end AND r.currency = :currency
), customers AS (
    SELECT slice, account, COALESCE(sum(amount) FILTER (WHERE NOT in_period), 0) AS base,
           COALESCE(sum(amount) FILTER (WHERE in_period), 0) AS now
    FROM rev GROUP BY 1, 2
)
SELECT slice, count(*) AS cohort, count(*) FILTER (WHERE now > 0) AS retained, COALESCE(sum(base), 0) AS starting,
       COALESCE(sum(now), 0) AS current, COALESCE(sum(LEAST(now, base)), 0) AS gross
FROM customers WHERE base > 0 GROUP BY 1
"""
)


def _params(dimension: str, scope: Scope, **more: object) -> dict[str, object]:
    return scope.bind({"account_dimension": dimension, **more})


async def steps(conn: AsyncConnection, dimension: str, path: Sequence[str], scope: Scope) -> dict[Slice, list[Step]]:
    params = _params(dimension, scope, stages=list(path), indexes=list(range(len(path))))
    found: dict[Slice, list[Step]] = defaultdict(list)
    for r in await conn.execute(scope.sql(_STEPS, "f.first_lead"), params):
        found[r.slice].append(Step(r.account, r.at, int(r.level), None if r.before is None else int(r.before)))
    return dict(found)


async def revenue(
    conn: AsyncConnection, dimension: str, period: Period, currency: str, scope: Scope
) -> tuple[dict[Slice, dict[tuple[str, str], tuple[int, Decimal]]], dict[Slice, dict[tuple[str, str], Decimal]]]:
    """(slice -> (kind, currency) -> (bookings, amount), slice -> (kind, division) -> attributed) in P."""
    params = _params(dimension, scope, start=period.start, end=period.end, currency=currency)
    by_kind: dict[Slice, dict[tuple[str, str], tuple[int, Decimal]]] = defaultdict(dict)
    for r in await conn.execute(scope.sql(_BY_KIND, "f.first_lead"), params):
        by_kind[r.slice][(r.kind, r.currency)] = (int(r.n), Decimal(r.amount))
    shares: dict[Slice, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for r in await conn.execute(scope.sql(_ATTRIBUTED, "f.first_lead"), params):
        shares[r.slice][(r.kind, r.division)] = Decimal(r.amount)
    return dict(by_kind), dict(shares)


async def retention(
    conn: AsyncConnection, dimension: str, period: Period, currency: str, scope: Scope
) -> dict[Slice, RetentionSums]:
    params = _params(
        dimension, scope, base_start=period.previous().start, start=period.start, end=period.end, currency=currency
    )
    return {
        r.slice: RetentionSums(
            int(r.cohort), int(r.retained), Decimal(r.starting), Decimal(r.current), Decimal(r.gross)
        )
        for r in await conn.execute(scope.sql(_RETENTION, "f.first_lead"), params)
    }
