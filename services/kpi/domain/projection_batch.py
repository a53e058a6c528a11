"""Folds the operations of a batch of records (in position order) into set-based writes. Pure: no I/O.

A lead has at most one open stay. Within a batch the fold keeps the stays it opened as whole rows (opened and
maybe already closed), and collects what happens to the stay each lead had open BEFORE the batch as one
update per lead (`prior`). The writer applies, in this order: prior updates (then `reclamp` with the exit
they got), new stays, transitions, lead rows (furthest index by GREATEST), merge inheritance (in position
order), revenue and shares, feedback. The result does not depend on where batches are cut (tested).

Balance bounds never go back in time within a lead: a stay's `exited_at` is at least its `entered_at`, and
the next stay starts where it ended. The engine's own times (`since`, `left_at`) are kept for durations. They
differ only when an event that arrived after a merge, but happened before it, moves the survivor: the
engine times that move from the kept stay's entry, which is earlier than the merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.common.stage_model.model_types import StageModel
from services.kpi.domain.projection import (
    BookRevenue,
    CloseStay,
    InheritReach,
    LeadEventRecord,
    MarkMerged,
    MeetSla,
    Op,
    OpenStay,
    ProjectionError,
    ReachStage,
    RecordFeedback,
    RecordTransition,
    SetValues,
    explain,
    project,
)


@dataclass
class StayRow:
    lead_id: str
    seq: int
    stage: str
    division: str
    entered_at: datetime
    since: datetime
    entry_kind: str
    sla_due_at: datetime | None
    sla_met_at: datetime | None = None
    exited_at: datetime | None = None
    exit_kind: str | None = None
    to_stage: str | None = None
    left_at: datetime | None = None


@dataclass
class PriorStay:
    """What the batch does to the stay the lead had open before it (matched by `exited_at IS NULL`)."""

    lead_id: str
    exited_at: datetime | None = None
    exit_kind: str | None = None
    to_stage: str | None = None
    sla_met_at: datetime | None = None


@dataclass
class Changes:
    stays: list[StayRow] = field(default_factory=list)
    prior: dict[str, PriorStay] = field(default_factory=dict)
    transitions: list[RecordTransition] = field(default_factory=list)
    reached: dict[str, int | None] = field(default_factory=dict)
    merged_into: dict[str, str] = field(default_factory=dict)
    inherits: list[InheritReach] = field(default_factory=list)
    revenue: list[BookRevenue] = field(default_factory=list)
    feedback: list[RecordFeedback] = field(default_factory=list)
    # Dimension values: per lead the values set in this batch (the writer gives them to the leads merged into
    # it too), the first position each (dimension, value) was seen at, and the bounded dimensions the summaries
    # are sliced by (from the model).
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    first_seen: dict[tuple[str, str], int] = field(default_factory=dict)
    sliced: tuple[str, ...] = ()
    anomalies: list[str] = field(default_factory=list)  # a log inconsistent with one open stay per lead
    records: int = 0
    first_position: int = 0
    last_position: int = 0
    _open: dict[str, StayRow] = field(default_factory=dict, repr=False)  # stays opened in this batch, open
    _prior_gone: set[str] = field(default_factory=set, repr=False)  # leads whose prior stay this batch closed
    _last_exit: dict[str, datetime] = field(default_factory=dict, repr=False)  # lead -> end of its last stay here
    _by_lead: dict[str, list[StayRow]] = field(default_factory=dict, repr=False)

    def add_records(self, records: Iterable[LeadEventRecord], model: StageModel) -> Changes:
        self.sliced = tuple(d.name for d in model.dimensions if d.bounded)
        for record in records:
            if record.position <= self.last_position:
                raise ValueError(f"records out of order: {record.position} after {self.last_position}")
            try:
                self.add(project(record, model))
            except ProjectionError:
                raise
            except (ValueError, TypeError, ArithmeticError) as exc:  # a value the fold cannot use (naive time, ...)
                raise ProjectionError(f"position {record.position}: {explain(exc)}") from exc
            self.records += 1
            self.first_position = self.first_position or record.position
            self.last_position = record.position
        return self

    def add(self, ops: Iterable[Op]) -> None:
        for op in ops:
            if isinstance(op, CloseStay):
                self._close(op)
            elif isinstance(op, OpenStay):
                if op.lead_id in self._open:
                    self.anomalies.append(f"lead {op.lead_id}: a stay opened while another was open")
                floor = self._last_exit.get(op.lead_id, op.entered_at)
                row = StayRow(op.lead_id, op.seq, op.stage, op.division, max(op.entered_at, floor), op.since,
                              op.entry_kind, op.sla_due_at, op.sla_met_at)  # fmt: skip
                self.stays.append(row)
                self._by_lead.setdefault(op.lead_id, []).append(row)
                self._open[op.lead_id] = row
            elif isinstance(op, MeetSla):
                self._meet_sla(op)
            elif isinstance(op, RecordTransition):
                self.transitions.append(op)
            elif isinstance(op, ReachStage):
                known = self.reached.get(op.lead_id)
                if op.index is not None and (known is None or op.index > known):
                    self.reached[op.lead_id] = op.index
                else:
                    self.reached.setdefault(op.lead_id, None)
            elif isinstance(op, MarkMerged):
                self.merged_into[op.lead_id] = op.survivor_id
                self.reached.setdefault(op.lead_id, None)
            elif isinstance(op, InheritReach):
                self.inherits.append(op)
                self.reached.setdefault(op.survivor_id, None)
            elif isinstance(op, BookRevenue):
                self.revenue.append(op)
            elif isinstance(op, SetValues):
                self.values.setdefault(op.lead_id, {}).update(op.values)
                for pair in op.values:
                    self.first_seen.setdefault(pair, op.position)
            else:
                self.feedback.append(op)

    def _close(self, op: CloseStay) -> None:
        row = self._open.pop(op.lead_id, None)
        if row is not None:
            row.exited_at, row.exit_kind, row.to_stage = max(op.exited_at, row.entered_at), op.exit_kind, op.to_stage
            row.left_at = op.exited_at
            self._last_exit[op.lead_id] = row.exited_at
        elif op.lead_id not in self._prior_gone:
            self._prior_gone.add(op.lead_id)
            prior = self.prior.setdefault(op.lead_id, PriorStay(op.lead_id))
            prior.exited_at, prior.exit_kind, prior.to_stage = op.exited_at, op.exit_kind, op.to_stage
        else:
            self.anomalies.append(f"lead {op.lead_id}: a stay closed with none open")

    def reclamp(self, lead_id: str, prior_exited_at: datetime) -> None:
        """The stay open before the batch ended at `prior_exited_at` (clamped by the writer): the stays this
        batch opened for the lead start no earlier."""
        floor = prior_exited_at
        for row in self._by_lead.get(lead_id, ()):
            row.entered_at = max(row.entered_at, floor)
            if row.exited_at is None:
                break
            row.exited_at = floor = max(row.exited_at, row.entered_at)

    def _meet_sla(self, op: MeetSla) -> None:
        row = self._open.get(op.lead_id)
        if row is not None:
            row.sla_met_at = row.sla_met_at or op.at
        elif op.lead_id not in self._prior_gone:
            prior = self.prior.setdefault(op.lead_id, PriorStay(op.lead_id))
            prior.sla_met_at = prior.sla_met_at or op.at
        else:
            self.anomalies.append(f"lead {op.lead_id}: an SLA met with no stay open")
