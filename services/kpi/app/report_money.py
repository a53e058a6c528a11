"""/v1/kpi/revenue, /v1/kpi/customer-success and /v1/kpi/feedback: the queries of one answer, in one snapshot."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_balance, queries_feedback, queries_flow, queries_money
from services.kpi.adapters.snapshot import snapshot
from services.kpi.domain.customer_success import RENEWAL, churn_stages, customer_stages, customer_success_report
from services.kpi.domain.feedback import feedback_report
from services.kpi.domain.periods import Period
from services.kpi.domain.revenue import revenue_report


async def revenue(engine: AsyncEngine, model: StageModel, period: Period, currency: str) -> dict[str, Any]:
    async with snapshot(engine) as conn:
        by_kind = await queries_money.revenue_by_kind(conn, period)
        shares = await queries_money.attributed(conn, period, currency)
    return revenue_report(model, currency, by_kind, shares)


async def customer_success(engine: AsyncEngine, model: StageModel, period: Period, currency: str) -> dict[str, Any]:
    customers, churn = customer_stages(model), churn_stages(model)
    async with snapshot(engine) as conn:
        at_start = await queries_balance.balances_at(conn, customers, period.start)
        churned = await queries_flow.inflow(conn, churn, period)
        by_kind = await queries_money.revenue_by_kind(conn, period)
        sums = await queries_money.retention(conn, period, currency)
    return customer_success_report(
        model,
        customers_at_start=sum(at_start.values()),
        churned=sum(churned.values()),
        renewals=sum(n for (kind, _), (n, _) in by_kind.items() if kind == RENEWAL),
        sums=sums,
        currency=currency,
    )


async def feedback(engine: AsyncEngine, period: Period) -> dict[str, Any]:
    async with snapshot(engine) as conn:
        pairs, campaigns = await queries_feedback.feedback(conn, period)
    return feedback_report(pairs, campaigns)
