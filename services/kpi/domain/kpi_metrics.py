"""The KPI metric families, from aggregates of the projections to Prometheus samples. Pure: no I/O.

`families(snapshot, model)` turns one `KpiSnapshot` (what the collector's SQL returned) into `Family` values.
Label values come only from the stage model (stages, divisions, revenue kinds) and fixed sets (`ABOUT`,
`FIRST_STAGE`, `TABLES`); a row naming anything else is left out and counted in
`stagetrack_kpi_metrics_skipped_rows{table}`. Every label set the model allows is present (zero when
empty), except transitions: the forward pairs of the success path are present from the start (the period
CVR's numerator, see `stagetrack_stage_forward_info`), any other pair once it happened.

Every replica of the KPI service reads the same tables, so every replica exposes the same numbers: the
recording rules deduplicate with `max` across instances before summing across label values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from services.common.stage_model.model_types import StageModel

# from_stage of a lead's first transition (it came from no stage). A model may not name a stage so.
FIRST_STAGE = "none"
# Upper bounds of the time-in-stage buckets: 1 h, 6 h, 1 d, 3 d, 7 d, 14 d, 30 d, 90 d (then +Inf).
TIME_IN_STAGE_BUCKETS: tuple[float, ...] = (3600, 21600, 86400, 259200, 604800, 1209600, 2592000, 7776000)
ABOUT = ("meeting", "lead", "campaign")  # what a feedback_submitted is about (PRODUCT.md)
TABLES = ("kpi_stays", "kpi_transitions", "kpi_revenue", "kpi_revenue_shares", "kpi_feedback")

Kind = Literal["counter", "gauge", "histogram", "summary"]


@dataclass(frozen=True, slots=True)
class EndedStays:
    """Stays of one stage that ended by a transition: cumulative counts per bucket bound, count, sum of seconds."""

    stage: str
    cumulative: tuple[int, ...]  # one per TIME_IN_STAGE_BUCKETS bound: stays with exit - since <= bound
    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class FeedbackGroup:
    from_division: str
    to_division: str
    about: str
    count: int
    rating_sum: int
    met: int  # met_expectations true
    not_met: int  # met_expectations false (null: not answered, in neither)


@dataclass(frozen=True, slots=True)
class KpiSnapshot:
    """Aggregates over the projection tables at one instant (`KpiCollector.refresh` builds it)."""

    balance: Sequence[tuple[str, int]] = ()  # stage, open stays
    overdue: Sequence[tuple[str, int]] = ()  # stage, open stays past sla_due_at and not met
    entries: Sequence[tuple[str, int]] = ()  # to_stage, transitions
    transitions: Sequence[tuple[str | None, str, int]] = ()  # from_stage (None: first), to_stage, count
    revenue: Sequence[tuple[str, int, Decimal]] = ()  # kind, bookings, amount
    shares: Sequence[tuple[str, str, int, Decimal]] = ()  # kind, division, shares, amount
    ended: Sequence[EndedStays] = ()
    feedback: Sequence[FeedbackGroup] = ()


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(slots=True)
class Family:
    """One metric family; `name` is without `_total` for counters (the exposition adds it)."""

    name: str
    kind: Kind
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, labels: Mapping[str, str], value: float, suffix: str = "") -> None:
        self.samples.append(Sample(self.name + suffix, dict(labels), float(value)))


def check_model(model: StageModel) -> None:
    """Refuses a model the metrics cannot label unambiguously."""
    if FIRST_STAGE in model.stages:
        raise ValueError(f"stage name {FIRST_STAGE!r} is reserved: it is the from_stage of a lead's first transition")


def revenue_kinds(model: StageModel) -> tuple[str, ...]:
    """The model's revenue kinds in declaration order (new, renewal, upsell, cross_sell for the-model)."""
    return tuple(dict.fromkeys([*model.revenue_kinds.values(), *model.attribution]))


def families(snapshot: KpiSnapshot, model: StageModel) -> list[Family]:
    skipped: dict[str, int] = dict.fromkeys(TABLES, 0)
    result = [
        _balance(snapshot, model, skipped),
        _entries(snapshot, model, skipped),
        _transitions(snapshot, model, skipped),
        _forward(model),
        _overdue(snapshot, model, skipped),
        _time_in_stage(snapshot, model, skipped),
        *_revenue(snapshot, model, skipped),
        *_feedback(snapshot, model, skipped),
    ]
    unknown = Family(
        "stagetrack_kpi_metrics_skipped_rows",
        "gauge",
        "Projection rows left out of the KPI metrics: their stage, division or kind is not in the stage model",
    )
    for table in TABLES:
        unknown.add({"table": table}, skipped[table])
    return [*result, unknown]


def _per_stage(
    rows: Iterable[tuple[str, int]], model: StageModel, skipped: dict[str, int], table: str
) -> dict[str, int]:
    counts = dict.fromkeys(model.stages, 0)
    for stage, n in rows:
        if stage in counts:
            counts[stage] += n
        else:
            skipped[table] += n
    return counts


def _balance(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> Family:
    family = Family(
        "stagetrack_stage_leads", "gauge", "Leads in the stage now (balance: open stays, by the latest events)"
    )
    for stage, n in _per_stage(snapshot.balance, model, skipped, "kpi_stays").items():
        family.add({"stage": stage, "division": model.stages[stage].division}, n)
    return family


def _entries(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> Family:
    family = Family("stagetrack_stage_entries", "counter", "Transitions into the stage ever (a re-entry counts again)")
    ignored: dict[str, int] = defaultdict(int)  # the same rows as the transitions': counted there
    for stage, n in _per_stage(snapshot.entries, model, ignored, "kpi_transitions").items():
        family.add({"stage": stage, "division": model.stages[stage].division}, n, "_total")
    return family


def _transitions(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> Family:
    family = Family(
        "stagetrack_stage_transitions",
        "counter",
        f'Stage changes ever, by origin and destination (from_stage="{FIRST_STAGE}": a lead\'s first stage)',
    )
    counts: dict[tuple[str, str], int] = dict.fromkeys(forward_pairs(model), 0)
    for from_stage, to_stage, n in snapshot.transitions:
        origin = FIRST_STAGE if from_stage is None else from_stage
        if to_stage in model.stages and (from_stage is None or from_stage in model.stages):
            counts[(origin, to_stage)] = counts.get((origin, to_stage), 0) + n
        else:
            skipped["kpi_transitions"] += n
    for (origin, to_stage), n in sorted(counts.items()):
        family.add({"from_stage": origin, "to_stage": to_stage}, n, "_total")
    return family


def _forward(model: StageModel) -> Family:
    family = Family(
        "stagetrack_stage_forward_info",
        "gauge",
        "1 for each (from_stage, to_stage) where to_stage is later on the success path: the CVR numerator's pairs",
    )
    for origin, destination in forward_pairs(model):
        family.add({"from_stage": origin, "to_stage": destination}, 1)
    return family


def forward_pairs(model: StageModel) -> list[tuple[str, str]]:
    """(S, T) with T later than S on the success path: outflow of S to T counts towards the period CVR of S."""
    path = model.success_path
    return [(stage, later) for i, stage in enumerate(path) for later in path[i + 1 :]]


def _overdue(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> Family:
    family = Family(
        "stagetrack_stage_overdue_leads", "gauge", "Leads in the stage now whose SLA deadline passed without it met"
    )
    counts = _per_stage(snapshot.overdue, model, defaultdict(int), "kpi_stays")  # a subset of the balance's rows
    for stage, n in counts.items():
        if stage in model.slas or n:
            family.add({"stage": stage}, n)
    return family


def _time_in_stage(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> Family:
    family = Family(
        "stagetrack_time_in_stage_seconds",
        "histogram",
        "Time in stage of the stays that ended by a transition (exit - entry of the person's stay)",
    )
    by_stage: dict[str, tuple[list[int], int, float]] = {
        s: ([0] * len(TIME_IN_STAGE_BUCKETS), 0, 0.0) for s in model.stages
    }
    for ended in snapshot.ended:
        if ended.stage not in by_stage:
            skipped["kpi_stays"] += ended.count
            continue
        cumulative, count, seconds = by_stage[ended.stage]
        summed = [a + b for a, b in zip(cumulative, ended.cumulative, strict=True)]
        by_stage[ended.stage] = (summed, count + ended.count, seconds + ended.seconds)
    for stage, (cumulative, count, seconds) in by_stage.items():
        for bound, n in zip(TIME_IN_STAGE_BUCKETS, cumulative, strict=True):
            family.add({"stage": stage, "le": _le(bound)}, n, "_bucket")
        family.add({"stage": stage, "le": "+Inf"}, count, "_bucket")
        family.add({"stage": stage}, count, "_count")
        family.add({"stage": stage}, seconds, "_sum")
    return family


def _revenue(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> list[Family]:
    kinds = revenue_kinds(model)
    shared = Family("stagetrack_revenue", "counter", "Shared revenue booked ever, by kind (reporting currency)")
    bookings = Family("stagetrack_revenue_bookings", "counter", "Revenue events booked ever, by kind")
    amounts: dict[str, Decimal] = dict.fromkeys(kinds, Decimal(0))
    counts = dict.fromkeys(kinds, 0)
    for kind, n, amount in snapshot.revenue:
        if kind in amounts:
            amounts[kind] += amount
            counts[kind] += n
        else:
            skipped["kpi_revenue"] += n
    for kind in kinds:
        shared.add({"kind": kind}, float(amounts[kind]), "_total")
        bookings.add({"kind": kind}, counts[kind], "_total")
    attributed = Family(
        "stagetrack_revenue_attributed",
        "counter",
        "Revenue credited to a division ever, by kind (shares of one amount sum to it exactly)",
    )
    split: dict[tuple[str, str], Decimal] = {
        (kind, division): Decimal(0)
        for kind in kinds
        for division in model.divisions
        if model.attribution.get(kind, {}).get(division, 0) > 0
    }
    for kind, division, n, amount in snapshot.shares:
        if kind in amounts and division in model.divisions:
            split[(kind, division)] = split.get((kind, division), Decimal(0)) + amount
        else:
            skipped["kpi_revenue_shares"] += n
    for (kind, division), amount in sorted(split.items(), key=lambda kv: (kinds.index(kv[0][0]), kv[0][1])):
        attributed.add({"kind": kind, "division": division}, float(amount), "_total")
    return [shared, bookings, attributed]


def _feedback(snapshot: KpiSnapshot, model: StageModel, skipped: dict[str, int]) -> list[Family]:
    # Present from the start between two different divisions; feedback within a division once it happened.
    groups = {(f, t, a): [0, 0, 0, 0] for f in model.divisions for t in model.divisions for a in ABOUT if f != t}
    for g in snapshot.feedback:
        key = (g.from_division, g.to_division, g.about)
        if g.from_division in model.divisions and g.to_division in model.divisions and g.about in ABOUT:
            for i, n in enumerate((g.count, g.rating_sum, g.met, g.not_met)):
                groups.setdefault(key, [0, 0, 0, 0])[i] += n
        else:
            skipped["kpi_feedback"] += g.count
    rating = Family(
        "stagetrack_feedback_rating",
        "summary",
        "Feedback between divisions ever: count and sum of ratings (1..5); mean = sum / count",
    )
    answered = Family(
        "stagetrack_feedback_expectations",
        "counter",
        'Feedback that answered met_expectations, by the answer (met="true"|"false")',
    )
    for (from_division, to_division, about), (count, total, met, not_met) in sorted(groups.items()):
        labels = {"from_division": from_division, "to_division": to_division, "about": about}
        rating.add(labels, count, "_count")
        rating.add(labels, total, "_sum")
        answered.add({**labels, "met": "true"}, met, "_total")
        answered.add({**labels, "met": "false"}, not_met, "_total")
    return [rating, answered]


def _le(bound: float) -> str:
    return repr(float(bound))
