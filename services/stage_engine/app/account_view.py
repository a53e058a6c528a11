"""An account as a reader sees it (GET /v1/accounts/{id}): its buying group, each person's stage now.

The account is the model's `account` dimension (docs/stage-model.md "Dimensions": the latest account_id an
event of the person carried). The account's own stage, by the KPI service's rule (the most advanced stage any
of its people reached), is in GET /v1/kpi/accounts?account=<id>.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.stage_model.model_types import StageModel
from services.stage_engine.adapters.account_queries import people_of_account
from services.stage_engine.domain.lead import CRM


def account_dimension(model: StageModel) -> str | None:
    return next((d.name for d in model.dimensions if d.kind == "account"), None)


async def account_view(engine: AsyncEngine, model: StageModel, account: str) -> dict[str, Any] | None:
    """None when no person has the account now (or the model declares no account dimension)."""
    dimension = account_dimension(model)
    if dimension is None:
        return None
    states = await people_of_account(engine, dimension, account)
    if not states:
        return None
    people = []
    for state in states:
        stage = state.get("stage")
        found = model.stages.get(stage or "")
        people.append(
            {
                "lead_id": state["lead_id"],
                "crm_ids": sorted(value for kind, value in state.get("identities", ()) if kind == CRM),
                "stage": stage,
                "division": None if found is None else found.division,
                "stage_entered_at": state.get("stage_entered_at"),
                "score": state.get("score", 0),
                "dimensions": {d[0]: d[1] for d in state.get("dimensions", ()) if d[0] != dimension},
            }
        )
    order = {name: i for i, name in enumerate(model.stages)}
    people.sort(key=lambda p: (order.get(p["stage"] or "", len(order)), p["stage_entered_at"] or "", p["lead_id"]))
    return {"account_id": account, "dimension": dimension, "people": people}
