"""What the dispatcher remembers of a lead between its events (kept in PostgreSQL by the adapters).

The lead events carry no state: a revenue booking does not say where the lead stands, a stage change does not
name the CRM ids. The dispatcher folds what moments need: the last position seen (a record published twice is
skipped), the current stage and division, the CRM ids, the lead's value of the model's `source` dimension (from
its DimensionsSet events; a merge gives the survivor the value the merge kept), and the open SLA deadline of the
current stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SOURCE_DIMENSION = "source"  # the model dimension a subscription's `sources` filter reads


@dataclass(frozen=True, slots=True)
class Deadline:
    """The SLA deadline of a lead's current stay; `partition` is where the lead's events arrive (the breach
    fires only once that partition is read past the deadline, so a move already published cancels it)."""

    stage: str
    sla_id: str | None
    due_at: datetime
    partition: int


@dataclass(frozen=True, slots=True)
class LeadFacts:
    lead_id: str
    last_position: int = 0
    stage: str | None = None
    division: str | None = None
    crm_ids: tuple[str, ...] = ()
    deadline: Deadline | None = None
    source: str | None = None

    @property
    def is_new(self) -> bool:
        return self.last_position == 0
