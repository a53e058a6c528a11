"""Moments: what the people who act on a lead want to hear about, read off the lead events.

A moment is named by its kind and has a stable key: the store position of the lead event it comes from
(`stage_entered:1234`), or for an SLA breach the stay whose deadline passed (`sla_breached:L1:mql:<due>`).
The key, with the endpoint, becomes the Standard Webhooks `webhook-id`, so a moment found again (a record
published twice, a restart) is the same message and receivers dedupe it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

MomentKind = Literal[
    "stage_entered",
    "sla_breached",
    "score_crossed",
    "feedback_submitted",
    "opportunity_won",
    "opportunity_lost",
    "customer_churned",
    "customer_renewed",
]
MOMENT_KINDS: tuple[MomentKind, ...] = (
    "stage_entered",
    "sla_breached",
    "score_crossed",
    "feedback_submitted",
    "opportunity_won",
    "opportunity_lost",
    "customer_churned",
    "customer_renewed",
)


@dataclass(frozen=True, slots=True)
class Moment:
    kind: MomentKind
    key: str  # stable: the same moment found twice has the same key
    lead_id: str
    occurred_at: datetime  # event time (for a breach: the deadline)
    recorded_at: datetime  # when stagetrack stored it (for a breach: when the dispatcher found it passed)
    cause_event_id: str | None  # the envelope that caused it (None for a breach: time caused it)
    stage: str | None  # the stage it concerns: entered, breached, or the lead's stage at the time
    division: str | None  # that stage's division
    crm_ids: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # the kind's own fields of the body
    source: str | None = None  # the lead's value of the model's `source` dimension when the moment was found


def event_key(kind: MomentKind, position: int) -> str:
    return f"{kind}:{position}"


def breach_key(lead_id: str, stage: str, due_at: datetime) -> str:
    return f"sla_breached:{lead_id}:{stage}:{due_at.isoformat()}"
