"""The projection of dimension values: what DimensionsSet and merges set, and where each value was first seen."""

from __future__ import annotations

from services.common.stage_model.model import default_model
from services.kpi.domain.projection import SetValues, project
from services.kpi.domain.projection_batch import Changes

from .support import EngineLog, envelope

MODEL = default_model()


def test_values_are_set_by_dimensions_set_and_by_the_survivors_merge() -> None:
    log = EngineLog(MODEL)
    log.send([envelope("a1", "page_viewed", 0, anon="a", path="/", utm_source="google", campaign="spring")])
    log.send([envelope("b1", "page_viewed", 1, anon="b", path="/", utm_source="bing")])
    log.send([envelope("c1", "form_submitted", 2, anon="b", crm="crm-1", form_id="f", email="x@y.z")])
    log.send([envelope("c2", "identified", 3, anon="a", crm="crm-1", traits={"employees": 2000})])
    ops = [op for record in log.records for op in project(record, MODEL) if isinstance(op, SetValues)]
    assert [dict(op.values) for op in ops] == [
        {"source": "google", "campaign": "spring"},
        {"source": "bing"},
        {"source": "google", "campaign": "spring"},  # the merge: google was seen first (00:00), the lead survives
        {"segment": "enterprise"},
    ]
    changes = Changes().add_records(log.records, MODEL)
    survivor = log.lead_of(("anonymous", "a")).lead_id
    (absorbed,) = [lead_id for lead_id, lead in log.leads.items() if lead.merged_into == survivor]
    assert changes.values[survivor] == {"source": "google", "campaign": "spring", "segment": "enterprise"}
    assert changes.merged_into == {absorbed: survivor}
    assert changes.first_seen == {
        ("source", "google"): ops[0].position,  # 3: after LeadCreated and IdentityLinked
        ("campaign", "spring"): ops[0].position,
        ("source", "bing"): ops[1].position,
        ("segment", "enterprise"): ops[3].position,
    }
    assert changes.sliced == ("source", "campaign", "segment")
