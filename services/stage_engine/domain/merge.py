"""decide_merge: two leads turn out to be one person (an event carries identities of both).

The rule:
- Survivor: the lead created earlier (by `created_at`, event time); on a tie the smaller internal id.
  `merge_order(a, b)` applies it; `decide_merge` refuses arguments in the other order.
- Stage: the one further along the success path. A detour ranks as its `merge_rank_as` stage (the-model:
  nurture as mql, churned as active); on equal rank a success-path stage beats a detour, and otherwise
  the survivor's stage stays. The winning stay is kept whole: its stage, entry time, SLA, and the points
  gained since its entry (so "30 more points in nurture" is not met by the merge itself).
- Score: the sum of both (every event was scored on exactly one of them, so nothing counts twice).
- Dimension values: per dimension the one its rule keeps of the two (dimension_values.merged).
- Identities and divisions visited: the union. Histories: both streams are kept; each carries a
  LeadsMerged naming the other, so "why is this lead here" can show both timelines.

Two LeadsMerged are returned: role "survivor" for the survivor's stream (the merged state) and role
"absorbed" for the absorbed lead's stream (it is closed: `merged_into`). A merge is NOT a transition.
KPI consumers: on role "absorbed", remove the absorbed lead from the balance of `stage_before` (its
only removal: the absorbed stream never gets another event); on role "survivor", move the survivor from
`stage_before` to `stage_after` when they differ, without counting inflow, outflow, CVR or time in stage
(the person's stay in `stage_after` was counted when the absorbed lead entered it). Net: two leads -> one.
The adapter then decides the cause event itself against the merged survivor.
"""

from __future__ import annotations

from typing import Any

from services.common.envelope import Event
from services.common.lead_events.events import DomainEvent, LeadsMerged
from services.common.stage_model.model_types import StageModel
from services.stage_engine.domain.dimension_values import merged
from services.stage_engine.domain.lead import Lead


def merge_order(a: Lead, b: Lead) -> tuple[Lead, Lead]:
    """(survivor, absorbed) by the documented rule."""
    return (a, b) if (a.created_at, a.lead_id) <= (b.created_at, b.lead_id) else (b, a)


def _outranks(challenger: str | None, holder: str | None, model: StageModel) -> bool:
    if challenger is None:
        return False
    if holder is None:
        return True
    c, h = model.stages[challenger], model.stages[holder]
    return c.merge_rank > h.merge_rank or (c.merge_rank == h.merge_rank and h.is_detour and not c.is_detour)


def decide_merge(survivor: Lead, absorbed: Lead, cause: Event, model: StageModel) -> list[DomainEvent]:
    if survivor.lead_id == absorbed.lead_id:
        raise ValueError(f"cannot merge lead {survivor.lead_id} with itself")
    for lead in (survivor, absorbed):
        if lead.merged_into is not None:
            raise ValueError(f"lead {lead.lead_id} was already merged into {lead.merged_into}")
    if merge_order(survivor, absorbed)[0] is not survivor:
        raise ValueError(f"lead {absorbed.lead_id} was created first and must be the survivor")
    kept = absorbed if _outranks(absorbed.stage, survivor.stage, model) else survivor
    score = survivor.score + absorbed.score
    entries = [t for t in (survivor.stage_entered_at, absorbed.stage_entered_at) if t is not None]
    at = max([cause.occurred_at, *entries])
    visited = survivor.divisions | absorbed.divisions
    order = {division: i for i, division in enumerate(model.divisions)}
    common: dict[str, Any] = {
        "cause_event_id": cause.event_id,
        "occurred_at": at,
        "survivor_id": survivor.lead_id,
        "absorbed_id": absorbed.lead_id,
        "stage_after": kept.stage,
        "stage_entered_at_after": kept.stage_entered_at,
        "score_after": score,
        "score_at_stage_entry_after": score - kept.score_since_stage_entry,
        "identities": tuple(sorted(absorbed.identities - survivor.identities)),
        "divisions_after": tuple(sorted(visited, key=lambda d: (order.get(d, len(order)), d))),
        "sla_due_at_after": kept.sla_due_at,
        "sla_met_at_after": kept.sla_met_at,
        "model_version": model.version,
        "event_occurred_at": cause.occurred_at,
        "dimensions_after": merged(survivor.dimensions, absorbed.dimensions, model),
    }
    return [
        LeadsMerged(lead_id=survivor.lead_id, role="survivor", stage_before=survivor.stage, **common),
        LeadsMerged(lead_id=absorbed.lead_id, role="absorbed", stage_before=absorbed.stage, **common),
    ]
