"""What the dispatcher reads from the stage model: which rule a stage change followed, and the SLA of a stage.

"Opportunity lost" and "customer churned" are moves caused by a rule that fires on those event types
(`opportunity_lost`, `churned`): a replaced model with other stage names still says which moves they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.common.stage_model.model_types import StageModel

LOST_EVENT = "opportunity_lost"
CHURN_EVENT = "churned"


@dataclass(frozen=True, slots=True)
class ModelRules:
    stages: frozenset[str]
    divisions: frozenset[str]
    division_of: Mapping[str, str]  # stage -> division
    sla_of: Mapping[str, str]  # stage -> the id of its SLA
    rule_events: Mapping[str, frozenset[str] | None]  # transition id -> the event types it fires on (None: any)
    dimensions: frozenset[str] = frozenset()  # the model's dimension names (a `sources` filter needs `source`)

    @classmethod
    def of(cls, model: StageModel) -> ModelRules:
        return cls(
            stages=frozenset(model.stages),
            divisions=frozenset(model.divisions),
            division_of={name: stage.division for name, stage in model.stages.items()},
            sla_of={stage: sla.id for stage, sla in model.slas.items()},
            rule_events={t.id: t.on for t in model.transitions},
            dimensions=frozenset(d.name for d in model.dimensions),
        )

    def fired_on(self, rules: Iterable[str], event_type: str) -> bool:
        """Whether one of the rules is a transition that fires on `event_type` (named, not a wildcard)."""
        for rule in rules:
            on = self.rule_events.get(rule)
            if on is not None and event_type in on:
                return True
        return False
