"""Per-stage KPIs of /v1/kpi/stages, assembled from what the queries counted (PRODUCT.md "KPI definitions").

Conventions (docs/kpi.md "Definitions"):
- A move is *forward* from a success-path stage S to a success-path stage with a higher index; from a detour,
  to any success-path stage (the lead is back on the path). Period CVR = forward outflow in P / inflow in P.
- Cohort CVR counts persons (merge chains resolved) who entered S by a transition in P; converted = the
  person's furthest success-path index now >= S's index + 1. Detours and the last stage have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.common.stage_model.model_types import StageModel
from services.kpi.domain.stats import Spread, ratio


@dataclass(frozen=True, slots=True)
class FunnelCounts:
    """Everything the SQL returned for one period; missing keys mean zero."""

    inflow: Mapping[str, int]  # stage -> transitions in
    outflow: Mapping[str, Mapping[str, int]]  # stage -> destination -> transitions out
    balance: Mapping[str, int]  # at `to`
    reached: Mapping[int, int]  # furthest index -> leads not merged away
    cohort: Mapping[str, Mapping[int | None, int]]  # stage -> furthest index now -> persons who entered in P
    time_in_stage: Mapping[str, Spread] = field(default_factory=dict)
    age: Mapping[str, Spread] = field(default_factory=dict)
    sla: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # stage -> (breaches in P, overdue now)


def is_forward(model: StageModel, stage: str, destination: str) -> bool:
    here, there = model.stages[stage].path_index, model.stages.get(destination)
    if there is None or there.path_index is None:
        return False
    return here is None or there.path_index > here


def forward_outflow(model: StageModel, stage: str, outflow: Mapping[str, int]) -> int:
    return sum(n for destination, n in outflow.items() if is_forward(model, stage, destination))


def cohort_counts(furthest: Mapping[int | None, int], threshold: int) -> tuple[int, int]:
    """(persons whose furthest index >= threshold, persons)."""
    converted = sum(n for index, n in furthest.items() if index is not None and index >= threshold)
    return converted, sum(furthest.values())


def reached(counts: Mapping[int, int], index: int) -> int:
    return sum(n for furthest, n in counts.items() if furthest >= index)


def stage_rows(model: StageModel, counts: FunnelCounts) -> list[dict[str, Any]]:
    order = {name: i for i, name in enumerate(model.stages)}
    rows = []
    for name, stage in model.stages.items():
        inflow = counts.inflow.get(name, 0)
        out = counts.outflow.get(name, {})
        index = stage.path_index
        has_next = index is not None and index + 1 < len(model.success_path)
        cohort: dict[str, Any] | None = None
        if has_next:
            assert index is not None
            converted, entered = cohort_counts(counts.cohort.get(name, {}), index + 1)
            cohort = {**ratio(converted, entered), "next_stage": model.success_path[index + 1]}
        sla = model.slas.get(name)
        breaches, overdue = counts.sla.get(name, (0, 0))
        rows.append(
            {
                "stage": name,
                "division": stage.division,
                "phase": stage.phase,
                "success_path_index": index,
                "inflow": inflow,
                "outflow": {
                    "total": sum(out.values()),
                    "by_destination": {d: out[d] for d in sorted(out, key=lambda d: order.get(d, len(order)))},
                },
                "balance": counts.balance.get(name, 0),
                "reached": None if index is None else reached(counts.reached, index),
                "cohort_cvr": cohort,
                "period_cvr": ratio(forward_outflow(model, name, out), inflow),
                "time_in_stage": counts.time_in_stage.get(name, Spread(0, None, None)).to_json(),
                "age": counts.age.get(name, Spread(0, None, None)).to_json(),
                "sla": None
                if sla is None
                else {
                    "id": sla.id,
                    "within_seconds": int(sla.within.total_seconds()),
                    "breaches": breaches,
                    "overdue_now": overdue,
                },
            }
        )
    return rows
