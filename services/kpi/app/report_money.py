"""/v1/kpi/revenue, /v1/kpi/customer-success and /v1/kpi/feedback: the queries of one answer, in one snapshot."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_balance, queries_feedback, queries_flow, queries_money
from services.kpi.adapters.scope import Scope
from services.kpi.app.slices import keys, sliced, whole
from services.kpi.domain.customer_success import (
    RENEWAL,
    RetentionSums,
    churn_stages,
    customer_stages,
    customer_success_report,
)
from services.kpi.domain.feedback import feedback_report
from services.kpi.domain.periods import Period
from services.kpi.domain.revenue import revenue_report
from services.kpi.domain.slicing import Body, Slice, Slicing

Answer = tuple[Body, dict[Slice, Body] | None]
_NO_RETENTION = RetentionSums(0, 0, Decimal(0), Decimal(0), Decimal(0))


async def revenue(engine: AsyncEngine, model: StageModel, period: Period, currency: str, slicing: Slicing) -> Answer:
    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        by_kind = await queries_money.revenue_by_kind(conn, period, scope)
        shares = await queries_money.attributed(conn, period, currency, scope)
        return {
            key: revenue_report(model, currency, by_kind.get(key, {}), shares.get(key, {}))
            for key in keys(by_kind, shares) | whole(scope)
        }

    return await sliced(engine, slicing, build)


async def customer_success(
    engine: AsyncEngine, model: StageModel, period: Period, currency: str, slicing: Slicing
) -> Answer:
    customers, churn = customer_stages(model), churn_stages(model)

    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        at_start = await queries_balance.balances_at(conn, customers, period.start, scope)
        churned = await queries_flow.inflow(conn, churn, period, scope)
        by_kind = await queries_money.revenue_by_kind(conn, period, scope)
        sums = await queries_money.retention(conn, period, currency, scope)
        return {
            key: customer_success_report(
                model,
                customers_at_start=sum(at_start.get(key, {}).values()),
                churned=sum(churned.get(key, {}).values()),
                renewals=sum(n for (kind, _), (n, _) in by_kind.get(key, {}).items() if kind == RENEWAL),
                sums=sums.get(key, _NO_RETENTION),
                currency=currency,
            )
            for key in keys(at_start, churned, by_kind, sums) | whole(scope)
        }

    return await sliced(engine, slicing, build)


async def feedback(engine: AsyncEngine, period: Period, slicing: Slicing) -> Answer:
    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        found = await queries_feedback.feedback(conn, period, scope)
        return {key: feedback_report(pairs, campaigns) for key, (pairs, campaigns) in found.items()}

    return await sliced(engine, slicing, build)
