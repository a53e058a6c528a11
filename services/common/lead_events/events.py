"""Domain events: what the engine decided, stored per lead stream and published on stagetrack.lead-events.

Every event names its stream (`lead_id`), the envelope that caused it (`cause_event_id`) and when it
happened (`occurred_at`, event time). JSON form: `to_dict`/`from_dict` in `event_codec`, with a `type` tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadCreated:
    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    model_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityLinked:
    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    kind: str  # anonymous | crm | email_hash
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreChanged:
    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    delta: int
    new_score: int
    rule: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StageChanged:
    """One per event at most. `occurred_at` = max(event time, entry time of the stay it ends)."""

    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    from_stage: str | None  # None: the lead's first stage
    to_stage: str
    to_division: str
    rule: str  # the rule that put the lead in to_stage
    via: tuple[str, ...]  # rules applied before it for the same event (visitor -identified-> lead -> mql)
    model_version: str
    event_occurred_at: datetime  # the cause event's own occurred_at, kept when it was clamped
    from_entered_at: datetime | None  # start of the stay this change ends
    sla_due_at: datetime | None  # SLA deadline of the stay it starts


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaMet:
    """A named event satisfied the current stay's SLA while the lead stayed (leaving always satisfies)."""

    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    stage: str
    rule: str  # the SLA's id
    on_time: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadsMerged:
    """Written on both streams (role survivor / absorbed), carrying the merged state. See decide_merge."""

    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    role: Literal["survivor", "absorbed"]
    survivor_id: str
    absorbed_id: str
    stage_before: str | None  # this stream's stage before the merge
    stage_after: str | None  # the survivor's stage after the merge
    stage_entered_at_after: datetime | None
    score_after: int
    score_at_stage_entry_after: int
    identities: tuple[tuple[str, str], ...]  # the absorbed lead's identities, now the survivor's
    divisions_after: tuple[str, ...]
    sla_due_at_after: datetime | None
    sla_met_at_after: datetime | None
    model_version: str
    event_occurred_at: datetime
    # The survivor's dimension values after the merge: (dimension, value, observed at as UTC RFC 3339), each the
    # observation the dimension's rule keeps of the two (DimensionsSet says how values are observed).
    dimensions_after: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DimensionsSet:
    """The lead's value of one or more of the model's dimensions changed (docs/stage-model.md "Dimensions"): the
    event showed a value its rule keeps (the first observation, or a later one that wins by event time).
    `values` holds only what changed; each was observed at `occurred_at`, the cause event's own time."""

    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    values: tuple[tuple[str, str], ...]  # (dimension, value)


@dataclass(frozen=True, slots=True, kw_only=True)
class RevenueBooked:
    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    kind: str  # new | renewal | upsell | cross_sell
    amount: str  # exact decimal string
    currency: str
    shares: tuple[tuple[str, str], ...]  # (division, decimal string), summing exactly to amount
    model_version: str
    account_id: str | None = None
    reference: str | None = None  # the opportunity id when the event names one


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRecorded:
    lead_id: str
    cause_event_id: str
    occurred_at: datetime
    from_division: str
    to_division: str
    about: str  # meeting | lead | campaign
    rating: int  # 1..5
    met_expectations: bool | None = None
    reason_code: str | None = None
    campaign: str | None = None


DomainEvent = (
    LeadCreated
    | IdentityLinked
    | DimensionsSet
    | ScoreChanged
    | StageChanged
    | SlaMet
    | LeadsMerged
    | RevenueBooked
    | FeedbackRecorded
)

EVENT_CLASSES: dict[str, type[DomainEvent]] = {
    cls.__name__: cls
    for cls in (
        LeadCreated,
        IdentityLinked,
        DimensionsSet,
        ScoreChanged,
        StageChanged,
        SlaMet,
        LeadsMerged,
        RevenueBooked,
        FeedbackRecorded,
    )
}
