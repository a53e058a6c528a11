"""The KPI families per slice of each bounded dimension (docs/observability.md "Slices"). Pure: no I/O.

Each series carries one dimension as a `dimension`/`value` label pair, never two dimensions at once. Only a
bounded dimension (declared with `max_values`) is a label, and owner and account never are (the model refuses
it): they name people and companies. `value` is one of the dimension's first `max_values` values seen (in store
order), `other` for every later one, or `none` for leads without a value. So a family has at most
sum over the bounded dimensions of (max_values + 2) x its stages (or kinds) series, and the series of one
dimension sum to the unsliced family's. Every label set is present from the start (zero when empty), values
once they are seen.

    stagetrack_stage_leads_by_slice{dimension="source",stage="mql",value="google"} 41.0
    stagetrack_stage_entries_by_slice_total{dimension="source",stage="mql",value="other"} 12.0
    stagetrack_stage_forward_exits_by_slice_total{dimension="segment",stage="mql",value="none"} 7.0
    stagetrack_stage_overdue_leads_by_slice{dimension="campaign",stage="mql",value="spring"} 2.0
    stagetrack_revenue_by_slice_total{dimension="source",kind="new",value="google"} 1.2e+06
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from services.common.stage_model.model_types import StageModel
from services.kpi.domain.kpi_metrics import Family, forward_pairs, revenue_kinds

OTHER, NONE = "other", "none"
Row = tuple[str, str, str, int]  # dimension, value ('' none), stage or kind, count


@dataclass(frozen=True, slots=True)
class SliceSnapshot:
    """Per bounded dimension: its values in the order first seen, and the counts per (value, stage)."""

    seen: Mapping[str, Sequence[str]] = field(default_factory=dict)  # dimension -> values, first seen first
    balance: Sequence[Row] = ()
    flows: Sequence[tuple[str, str, str, str, int]] = ()  # dimension, value, from_stage ('' first), to_stage, n
    overdue: Sequence[Row] = ()
    revenue: Sequence[tuple[str, str, str, Decimal]] = ()  # dimension, value, kind, amount


def label_values(model: StageModel, seen: Mapping[str, Sequence[str]]) -> dict[str, dict[str, str]]:
    """dimension -> value -> label value, for every bounded dimension ('' -> none; past max_values -> other)."""
    labels: dict[str, dict[str, str]] = {}
    for d in model.dimensions:
        if d.max_values is None:
            continue
        found = {"": NONE}
        for i, value in enumerate(seen.get(d.name, ())):
            found.setdefault(value, value if i < d.max_values else OTHER)
        labels[d.name] = found
    return labels


def slice_families(snapshot: SliceSnapshot, model: StageModel) -> list[Family]:
    labels = label_values(model, snapshot.seen)
    stages, forward = list(model.stages), set(forward_pairs(model))
    forward_from = list(dict.fromkeys(origin for origin, _ in forward_pairs(model)))
    entries = [(d, v, to, n) for d, v, _, to, n in snapshot.flows]
    exits = [(d, v, origin, n) for d, v, origin, to, n in snapshot.flows if (origin, to) in forward]
    specs = [
        ("stagetrack_stage_leads_by_slice", "gauge", "", "stage", stages, snapshot.balance,
         "Leads in the stage now, per slice of a bounded dimension (the person's value; none, other)"),
        ("stagetrack_stage_entries_by_slice", "counter", "_total", "stage", stages, entries,
         "Transitions into the stage ever, per slice of a bounded dimension"),
        ("stagetrack_stage_forward_exits_by_slice", "counter", "_total", "stage", forward_from, exits,
         "Transitions ever from the stage to a later success-path stage (period CVR numerator), per slice"),
        ("stagetrack_stage_overdue_leads_by_slice", "gauge", "", "stage", list(model.slas), snapshot.overdue,
         "Leads in the stage now whose SLA deadline passed without it met, per slice"),
    ]  # fmt: skip
    families = [_family(labels, *spec) for spec in specs]
    revenue = [(d, v, kind, amount) for d, v, kind, amount in snapshot.revenue]
    families.append(
        _family(
            labels,
            "stagetrack_revenue_by_slice",
            "counter",
            "_total",
            "kind",
            list(revenue_kinds(model)),
            revenue,
            "Shared revenue booked ever by kind (reporting currency), per slice",
        )
    )
    return families


def _family(
    labels: Mapping[str, Mapping[str, str]],
    name: str,
    kind: str,
    suffix: str,
    key: str,
    keys: list[str],
    rows: Iterable[tuple[str, str, str, int | Decimal]],
    help: str,
) -> Family:
    family = Family(name, kind, help)  # type: ignore[arg-type]
    counts: dict[tuple[str, str, str], int | Decimal] = {}
    for dimension, values in labels.items():
        for label in dict.fromkeys(values.values()) | {OTHER: None}:
            for k in keys:
                counts[(dimension, label, k)] = 0
    for dimension, value, k, n in rows:
        label = labels.get(dimension, {}).get(value, OTHER)
        if dimension in labels and k in keys:
            counts[(dimension, label, k)] += n
    for (dimension, label, k), n in sorted(counts.items()):
        family.add({"dimension": dimension, "value": label, key: k}, float(n), suffix)
    return family
