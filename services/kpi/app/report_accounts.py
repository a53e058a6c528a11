"""/v1/kpi/accounts: accounts by their furthest lead's stage, their flow, balance and CVRs, revenue, NRR and GRR,
in one snapshot (domain/accounts.py has the rule)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.kpi.adapters import queries_accounts
from services.kpi.adapters.scope import Scope
from services.kpi.app.slices import keys, sliced, whole
from services.kpi.domain.accounts import flows, levels_now, stage_rows
from services.kpi.domain.customer_success import RetentionSums, retention_report
from services.kpi.domain.periods import Period
from services.kpi.domain.revenue import revenue_report
from services.kpi.domain.slicing import Body, Slice, Slicing

_NONE = RetentionSums(0, 0, Decimal(0), Decimal(0), Decimal(0))


def account_dimension(model: StageModel) -> str | None:
    return next((d.name for d in model.dimensions if d.kind == "account"), None)


async def accounts(
    engine: AsyncEngine, model: StageModel, dimension: str, period: Period, currency: str, slicing: Slicing
) -> tuple[Body, dict[Slice, Body] | None]:
    async def build(conn: AsyncConnection, scope: Scope) -> dict[Slice, Body]:
        steps = await queries_accounts.steps(conn, dimension, model.success_path, scope)
        by_kind, shares = await queries_accounts.revenue(conn, dimension, period, currency, scope)
        sums = await queries_accounts.retention(conn, dimension, period, currency, scope)
        answers = {}
        for key in keys(steps, by_kind, shares, sums) | whole(scope):
            mine = steps.get(key, [])
            counted = flows(mine, period.start, period.end, levels_now(mine))
            answers[key] = {
                "dimension": dimension,
                "accounts": sum(counted["balance"].values()),
                "stages": stage_rows(model, counted),
                "revenue": revenue_report(model, currency, by_kind.get(key, {}), shares.get(key, {})),
                **retention_report(sums.get(key, _NONE), currency),
            }
        return answers

    return await sliced(engine, slicing, build)
