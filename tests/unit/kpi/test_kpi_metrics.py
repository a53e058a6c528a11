"""The KPI metric families from aggregates: labels only from the model, zero-filled, strays skipped and counted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.common.stage_model.model import DEFAULT_MODEL_PATH, default_model, load_model
from services.kpi.domain.kpi_metrics import (
    TIME_IN_STAGE_BUCKETS,
    EndedStays,
    Family,
    FeedbackGroup,
    KpiSnapshot,
    check_model,
    families,
)

MODEL = default_model()


def _registry(snapshot: KpiSnapshot) -> CollectorRegistry:
    """The families in a registry, rendered the way the collector renders them."""
    from services.kpi.adapters.collector import to_metric

    found = families(snapshot, MODEL)

    class Fixed:
        def collect(self):  # type: ignore[no-untyped-def]
            return [to_metric(f) for f in found]

    registry = CollectorRegistry()
    registry.register(Fixed())  # type: ignore[arg-type]
    return registry


def _by_name(snapshot: KpiSnapshot) -> dict[str, Family]:
    return {f.name: f for f in families(snapshot, MODEL)}


def test_an_empty_projection_shows_every_label_set_of_the_model_at_zero() -> None:
    found = _by_name(KpiSnapshot())
    leads = {(s.labels["stage"], s.labels["division"]): s.value for s in found["stagetrack_stage_leads"].samples}
    assert leads == {(name, stage.division): 0 for name, stage in MODEL.stages.items()}
    assert len(found["stagetrack_stage_entries"].samples) == len(MODEL.stages)
    forward = {(s.labels["from_stage"], s.labels["to_stage"]) for s in found["stagetrack_stage_transitions"].samples}
    assert len(forward) == 8 * 7 // 2 and ("visitor", "active") in forward and ("mql", "lead") not in forward
    info = {(s.labels["from_stage"], s.labels["to_stage"]) for s in found["stagetrack_stage_forward_info"].samples}
    assert info == forward
    assert {s.labels["stage"] for s in found["stagetrack_stage_overdue_leads"].samples} == {"mql", "sql", "onboarding"}
    assert [s.labels["kind"] for s in found["stagetrack_revenue"].samples] == ["new", "renewal", "upsell", "cross_sell"]
    attributed = {(s.labels["kind"], s.labels["division"]) for s in found["stagetrack_revenue_attributed"].samples}
    assert attributed == {
        ("new", "marketing"), ("new", "inside_sales"), ("new", "field_sales"), ("renewal", "customer_success"),
        ("upsell", "customer_success"), ("upsell", "field_sales"), ("cross_sell", "customer_success"),
        ("cross_sell", "field_sales"),
    }  # fmt: skip
    # between two different divisions: 4 * 3 pairs * 3 subjects, count and sum each
    assert len(found["stagetrack_feedback_rating"].samples) == 4 * 3 * 3 * 2
    histogram = found["stagetrack_time_in_stage_seconds"].samples
    assert len(histogram) == len(MODEL.stages) * (len(TIME_IN_STAGE_BUCKETS) + 3)
    del found["stagetrack_stage_forward_info"]
    assert all(s.value == 0 for f in found.values() for s in f.samples)


def test_values_and_labels_from_aggregates() -> None:
    registry = _registry(
        KpiSnapshot(
            balance=[("mql", 3), ("active", 2)],
            overdue=[("mql", 1)],
            entries=[("mql", 7)],
            transitions=[(None, "visitor", 5), ("lead", "mql", 4), (None, "mql", 3)],
            revenue=[("new", 2, Decimal("1000000.5")), ("renewal", 1, Decimal(200))],
            shares=[("new", "marketing", 2, Decimal("300000.15")), ("renewal", "customer_success", 1, Decimal(200))],
            feedback=[FeedbackGroup("field_sales", "inside_sales", "meeting", 3, 11, 2, 1)],
        )
    )
    value = registry.get_sample_value
    assert value("stagetrack_stage_leads", {"stage": "mql", "division": "marketing"}) == 3
    assert value("stagetrack_stage_leads", {"stage": "active", "division": "customer_success"}) == 2
    assert value("stagetrack_stage_leads", {"stage": "sal", "division": "inside_sales"}) == 0
    assert value("stagetrack_stage_overdue_leads", {"stage": "mql"}) == 1
    assert value("stagetrack_stage_entries_total", {"stage": "mql", "division": "marketing"}) == 7
    assert value("stagetrack_stage_transitions_total", {"from_stage": "none", "to_stage": "visitor"}) == 5
    assert value("stagetrack_stage_transitions_total", {"from_stage": "none", "to_stage": "mql"}) == 3
    assert value("stagetrack_stage_transitions_total", {"from_stage": "lead", "to_stage": "mql"}) == 4
    assert value("stagetrack_revenue_total", {"kind": "new"}) == 1000000.5
    assert value("stagetrack_revenue_bookings_total", {"kind": "new"}) == 2
    assert value("stagetrack_revenue_total", {"kind": "upsell"}) == 0
    assert value("stagetrack_revenue_attributed_total", {"kind": "new", "division": "marketing"}) == 300000.15
    labels = {"from_division": "field_sales", "to_division": "inside_sales", "about": "meeting"}
    assert value("stagetrack_feedback_rating_count", labels) == 3
    assert value("stagetrack_feedback_rating_sum", labels) == 11
    assert value("stagetrack_feedback_expectations_total", {**labels, "met": "true"}) == 2
    assert value("stagetrack_feedback_expectations_total", {**labels, "met": "false"}) == 1


def test_the_time_in_stage_histogram_is_cumulative_and_ends_at_the_count() -> None:
    # 2 stays <= 1 h, 1 more <= 1 d, 1 longer than 90 d
    cumulative = (2, 2, 3, 3, 3, 3, 3, 3)
    registry = _registry(KpiSnapshot(ended=[EndedStays("sql", cumulative, 4, 9e6)]))
    value = registry.get_sample_value
    assert value("stagetrack_time_in_stage_seconds_bucket", {"stage": "sql", "le": "3600.0"}) == 2
    assert value("stagetrack_time_in_stage_seconds_bucket", {"stage": "sql", "le": "86400.0"}) == 3
    assert value("stagetrack_time_in_stage_seconds_bucket", {"stage": "sql", "le": "7776000.0"}) == 3
    assert value("stagetrack_time_in_stage_seconds_bucket", {"stage": "sql", "le": "+Inf"}) == 4
    assert value("stagetrack_time_in_stage_seconds_count", {"stage": "sql"}) == 4
    assert value("stagetrack_time_in_stage_seconds_sum", {"stage": "sql"}) == 9e6


def test_rows_the_model_does_not_know_are_left_out_and_counted() -> None:
    registry = _registry(
        KpiSnapshot(
            balance=[("ghost", 2), ("mql", 1)],
            overdue=[("ghost", 1)],
            entries=[("ghost", 3)],
            transitions=[("ghost", "mql", 1), ("mql", "ghost", 2), (None, "ghost", 1)],
            revenue=[("royalty", 2, Decimal(5))],
            shares=[("royalty", "marketing", 2, Decimal(5)), ("new", "sales_ops", 1, Decimal(1))],
            ended=[EndedStays("ghost", (1,) * 8, 1, 1.0)],
            feedback=[
                FeedbackGroup("sales_ops", "marketing", "lead", 2, 5, 0, 0),
                FeedbackGroup("marketing", "inside_sales", "weather", 1, 5, 0, 0),
            ],
        )
    )
    value = registry.get_sample_value
    skipped = {t: value("stagetrack_kpi_metrics_skipped_rows", {"table": t}) for t in ("kpi_stays", "kpi_transitions")}
    # balance and ended stays (overdue stays are among the balance's; entries are the transitions' rows)
    assert skipped == {"kpi_stays": 2 + 1, "kpi_transitions": 1 + 2 + 1}
    assert value("stagetrack_kpi_metrics_skipped_rows", {"table": "kpi_revenue"}) == 2
    assert value("stagetrack_kpi_metrics_skipped_rows", {"table": "kpi_revenue_shares"}) == 3
    assert value("stagetrack_kpi_metrics_skipped_rows", {"table": "kpi_feedback"}) == 3
    text = generate_latest(registry).decode()
    for stray in ("ghost", "royalty", "sales_ops", "weather"):
        assert stray not in text
    assert value("stagetrack_stage_leads", {"stage": "mql", "division": "marketing"}) == 1


def test_feedback_within_one_division_appears_once_it_happened() -> None:
    registry = _registry(KpiSnapshot(feedback=[FeedbackGroup("marketing", "marketing", "campaign", 1, 4, 1, 0)]))
    labels = {"from_division": "marketing", "to_division": "marketing", "about": "campaign"}
    assert registry.get_sample_value("stagetrack_feedback_rating_count", labels) == 1
    labels["about"] = "lead"
    assert registry.get_sample_value("stagetrack_feedback_rating_count", labels) is None


def test_a_model_with_a_stage_named_none_is_refused() -> None:
    text = DEFAULT_MODEL_PATH.read_text().replace("nurture", "none")
    with pytest.raises(ValueError, match="reserved"):
        check_model(load_model(text))
