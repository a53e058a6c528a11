"""The families per slice, from aggregates: label values bounded by max_values (the rest "other"), "none" for
leads without a value, every label set present from the start, forward exits only along the success path."""

from __future__ import annotations

from decimal import Decimal

from services.common.stage_model.model import DEFAULT_MODEL_PATH, load_model
from services.kpi.domain.slice_metrics import SliceSnapshot, label_values, slice_families

MODEL = load_model(DEFAULT_MODEL_PATH.read_text().replace("utm_source}, max_values: 20", "utm_source}, max_values: 2"))


def test_values_past_max_values_are_other_and_no_value_is_none() -> None:
    labels = label_values(MODEL, {"source": ["google", "bing", "ads", "x"], "owner": ["sato"]})
    assert labels["source"] == {"": "none", "google": "google", "bing": "bing", "ads": "other", "x": "other"}
    assert set(labels) == {"source", "campaign", "segment"}  # owner and account are never labels


def test_every_label_set_is_present_and_rows_land_in_their_label() -> None:
    snapshot = SliceSnapshot(
        seen={"source": ["google", "bing", "ads"]},
        balance=[("source", "google", "mql", 3), ("source", "ads", "mql", 2), ("source", "", "mql", 1)],
        flows=[("source", "ads", "mql", "sal", 4), ("source", "ads", "nurture", "mql", 5),
               ("source", "", "", "visitor", 6)],
        revenue=[("source", "bing", "new", Decimal("1000.5"))],
    )  # fmt: skip
    families = {f.name: f for f in slice_families(snapshot, MODEL)}
    leads = {(s.labels["dimension"], s.labels["value"], s.labels["stage"]): s.value
             for s in families["stagetrack_stage_leads_by_slice"].samples}  # fmt: skip
    assert leads[("source", "google", "mql")] == 3 and leads[("source", "other", "mql")] == 2
    assert leads[("source", "none", "mql")] == 1 and leads[("campaign", "none", "visitor")] == 0
    assert len(leads) == (4 + 2 + 2) * len(MODEL.stages)  # source: google, bing, other, none; others: other, none
    forward = families["stagetrack_stage_forward_exits_by_slice"].samples
    exits = {(s.labels["value"], s.labels["stage"]): s.value for s in forward if s.labels["dimension"] == "source"}
    assert exits[("other", "mql")] == 4 and ("other", "nurture") not in exits  # back from a detour: not in the rule
    entries = families["stagetrack_stage_entries_by_slice"].samples
    assert sum(s.value for s in entries if s.labels["dimension"] == "source") == 15
    revenue = [s for s in families["stagetrack_revenue_by_slice"].samples if s.value]
    assert [(s.name, s.labels["value"], s.labels["kind"], s.value) for s in revenue] == [
        ("stagetrack_revenue_by_slice_total", "bing", "new", 1000.5)
    ]
