"""One stored lead-event -> the row operations on the KPI projections. Pure: no I/O.

`project(record, model)` reads a record of the log (`position`, `lead_id`, `version` and the domain event's
JSON form, exactly what the store holds and the outbox publishes) and returns what it changes:

- LeadCreated: the lead gets a `kpi_leads` row.
- StageChanged: close the open stay (exit `transition`), open one in `to_stage` (seq = the event's version),
  record the transition, raise the lead's furthest success-path index.
- SlaMet: mark the open stay's SLA met.
- LeadsMerged, role absorbed: close its open stay (exit `absorbed`), its only removal from the balance; set
  `merged_into`.
- LeadsMerged, role survivor: when the stage changes, close (exit `merge`) and open (entry `merge`, `since` =
  the kept stay's entry); inherit the absorbed lead's furthest index. Never a transition.
- RevenueBooked: a revenue row and its shares. FeedbackRecorded: a feedback row.
- DimensionsSet: the lead's dimension values; LeadsMerged, role survivor, also sets the merged values (and the
  leads merged into it take them: a lead's values in the projections are its person's).
- IdentityLinked, ScoreChanged: nothing.

`projection_batch.Changes` folds the operations of a batch into set-based writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.common.lead_events.event_codec import from_dict
from services.common.lead_events.events import (
    DimensionsSet,
    FeedbackRecorded,
    LeadCreated,
    LeadsMerged,
    RevenueBooked,
    SlaMet,
    StageChanged,
)
from services.common.stage_model.model_types import StageModel


class ProjectionError(ValueError):
    """A record the projection cannot read (names the position): the projector sets it aside."""


@dataclass(frozen=True, slots=True)
class LeadEventRecord:
    position: int
    lead_id: str
    version: int
    event: Mapping[str, Any]  # event_codec.to_dict form: {"type": ..., ...}


@dataclass(frozen=True, slots=True)
class OpenStay:
    lead_id: str
    seq: int  # the stream version of the event that opened it
    stage: str
    division: str
    entered_at: datetime
    since: datetime
    entry_kind: str  # transition | merge
    sla_due_at: datetime | None
    sla_met_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CloseStay:
    lead_id: str
    exited_at: datetime
    exit_kind: str  # transition | merge | absorbed
    to_stage: str | None  # where the person is next


@dataclass(frozen=True, slots=True)
class MeetSla:
    lead_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordTransition:
    position: int
    lead_id: str
    from_stage: str | None
    to_stage: str
    rule: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ReachStage:
    lead_id: str
    index: int | None  # success-path index; None only makes sure the lead has a row


@dataclass(frozen=True, slots=True)
class MarkMerged:
    lead_id: str
    survivor_id: str


@dataclass(frozen=True, slots=True)
class InheritReach:
    survivor_id: str
    absorbed_id: str


@dataclass(frozen=True, slots=True)
class BookRevenue:
    position: int
    lead_id: str
    account_id: str | None
    kind: str
    amount: Decimal
    currency: str
    occurred_at: datetime
    shares: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class RecordFeedback:
    position: int
    lead_id: str
    from_division: str
    to_division: str
    about: str
    rating: int
    met_expectations: bool | None
    reason_code: str | None
    campaign: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class SetValues:
    """The lead's own dimension values changed (a merge: the survivor's, which its absorbed leads now share)."""

    position: int
    lead_id: str
    values: tuple[tuple[str, str], ...]  # (dimension, value)


Op = (
    OpenStay
    | CloseStay
    | MeetSla
    | RecordTransition
    | ReachStage
    | MarkMerged
    | InheritReach
    | BookRevenue
    | RecordFeedback
    | SetValues
)


def project(record: LeadEventRecord, model: StageModel) -> tuple[Op, ...]:
    """Raises `ProjectionError` naming the position for a record it cannot read (the projector sets it aside)."""
    try:
        return _project(record, model)
    except ProjectionError:
        raise
    except (ValueError, TypeError, ArithmeticError, KeyError, AttributeError) as exc:
        raise ProjectionError(f"position {record.position}: {explain(exc)}") from exc


def _project(record: LeadEventRecord, model: StageModel) -> tuple[Op, ...]:
    event = from_dict(dict(record.event))
    if event.lead_id != record.lead_id:
        raise ProjectionError(f"position {record.position}: event of {event.lead_id} in stream {record.lead_id}")
    lead = record.lead_id
    if isinstance(event, LeadCreated):
        return (ReachStage(lead, None),)
    if isinstance(event, StageChanged):
        at = event.occurred_at
        ops: list[Op] = []
        if event.from_stage is not None:
            ops.append(CloseStay(lead, at, "transition", event.to_stage))
        ops.append(
            OpenStay(lead, record.version, event.to_stage, event.to_division, at, at, "transition", event.sla_due_at)
        )
        ops.append(RecordTransition(record.position, lead, event.from_stage, event.to_stage, event.rule, at))
        ops.append(ReachStage(lead, path_index(model, event.to_stage)))
        return tuple(ops)
    if isinstance(event, SlaMet):
        return (MeetSla(lead, event.occurred_at),)
    if isinstance(event, LeadsMerged):
        return _merged(record, event, model)
    if isinstance(event, RevenueBooked):
        shares = tuple((division, Decimal(amount)) for division, amount in event.shares)
        amount = Decimal(event.amount)
        return (
            BookRevenue(
                record.position, lead, event.account_id, event.kind, amount, event.currency, event.occurred_at, shares
            ),
        )
    if isinstance(event, FeedbackRecorded):
        e = event
        return (
            RecordFeedback(
                record.position, lead, e.from_division, e.to_division, e.about, e.rating, e.met_expectations,
                e.reason_code, e.campaign, e.occurred_at,
            ),
        )  # fmt: skip
    if isinstance(event, DimensionsSet):
        return (SetValues(record.position, lead, event.values),)
    return ()  # IdentityLinked, ScoreChanged


def _merged(record: LeadEventRecord, e: LeadsMerged, model: StageModel) -> tuple[Op, ...]:
    at = e.occurred_at
    if e.role == "absorbed":
        closed: tuple[Op, ...] = (CloseStay(e.lead_id, at, "absorbed", e.stage_after),) if e.stage_before else ()
        return (*closed, MarkMerged(e.lead_id, e.survivor_id))
    values = tuple((name, value) for name, value, _ in e.dimensions_after)
    ops: list[Op] = [InheritReach(e.lead_id, e.absorbed_id), SetValues(record.position, e.lead_id, values)]
    if e.stage_before != e.stage_after:
        if e.stage_before is not None:
            ops.append(CloseStay(e.lead_id, at, "merge", e.stage_after))
        if e.stage_after is not None:
            since = e.stage_entered_at_after or at
            division = division_of(model, e.stage_after, record.position)
            ops.append(
                OpenStay(e.lead_id, record.version, e.stage_after, division, at, since, "merge", e.sla_due_at_after,
                         e.sla_met_at_after)
            )  # fmt: skip
    if e.stage_after is not None:
        ops.append(ReachStage(e.lead_id, path_index(model, e.stage_after)))
    return tuple(ops)


def explain(exc: BaseException) -> str:
    """A ValueError's message says it all; other errors need their type ("KeyError: 'amount'")."""
    return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


def path_index(model: StageModel, stage: str) -> int | None:
    found = model.stages.get(stage)
    return None if found is None else found.path_index


def division_of(model: StageModel, stage: str, position: int) -> str:
    found = model.stages.get(stage)
    if found is None:
        raise ProjectionError(f"position {position}: stage {stage!r} is not in the KPI service's stage model")
    return found.division
