"""Domain events as JSON, evolve's guards, identities, rejected events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from services.common.lead_events.event_codec import from_dict, to_dict
from services.common.lead_events.events import EVENT_CLASSES, IdentityLinked, LeadCreated, RevenueBooked, ScoreChanged
from services.common.stage_model.model import default_model
from services.stage_engine.domain.decide import EventRejected, decide
from services.stage_engine.domain.evolve import evolve, fold
from services.stage_engine.domain.lead import EMAIL_HASH, new_lead_id

from .support import FORM, T0, WON, Driver, changes, event, walk


def test_every_kind_of_domain_event_round_trips_through_json() -> None:
    d = Driver()
    walk(
        d,
        FORM,
        "meeting_held",
        WON,
        (
            "feedback_submitted",
            {
                "from_division": "field_sales",
                "to_division": "inside_sales",
                "about": "meeting",
                "rating": 2,
                "met_expectations": False,
                "campaign": "spring",
            },
        ),
    )
    seen = set()
    for domain_event in d.history:
        data = orjson.loads(orjson.dumps(to_dict(domain_event)))
        assert from_dict(data) == domain_event
        seen.add(data["type"])
    assert seen >= set(EVENT_CLASSES) - {"SlaMet", "LeadsMerged"}  # those two are covered elsewhere


def test_stage_changed_json_shape() -> None:
    d = Driver()
    (_, _, _, change) = d.send("page_viewed", {"path": "/"}, anonymous_id="a", lead_id=None)
    data = to_dict(change)
    assert data["type"] == "StageChanged" and data["via"] == [] and data["from_stage"] is None
    assert data["occurred_at"] == T0.isoformat()


def test_a_stream_starts_with_lead_created_and_belongs_to_one_lead() -> None:
    score = ScoreChanged(lead_id="l", cause_event_id="e", occurred_at=T0, delta=1, new_score=1, rule="r")
    with pytest.raises(ValueError, match="LeadCreated"):
        evolve(None, score)
    lead = evolve(None, LeadCreated(lead_id="other", cause_event_id="e", occurred_at=T0, model_version="v"))
    with pytest.raises(ValueError, match="applied to lead"):
        evolve(lead, score)
    with pytest.raises(ValueError):
        fold([])


def test_the_internal_id_is_derived_from_the_creating_event() -> None:
    out = decide(None, event("page_viewed", {"path": "/"}, event_id="evt-42"), default_model())
    assert isinstance(out[0], LeadCreated) and out[0].lead_id == new_lead_id("evt-42")
    assert new_lead_id("evt-42") != new_lead_id("evt-43")


def test_identities_are_linked_once_including_adapter_supplied_ones() -> None:
    model = default_model()
    out = decide(None, event(*FORM, anonymous_id="a1", lead_id="c1"), model, extra_identities=[(EMAIL_HASH, "h1")])
    linked = [(e.kind, e.value) for e in out if isinstance(e, IdentityLinked)]
    assert linked == [("anonymous", "a1"), ("crm", "c1"), (EMAIL_HASH, "h1")]
    lead = fold(out)
    again = decide(lead, event(*FORM, anonymous_id="a1", lead_id="c1"), model, extra_identities=[(EMAIL_HASH, "h1")])
    assert not any(isinstance(e, IdentityLinked) for e in again)
    assert lead.identified


@pytest.mark.parametrize(
    "kind,properties",
    [
        ("opportunity_won", {"opportunity_id": "o"}),
        ("renewal_won", {"amount": "ten"}),
        ("upsell_won", {"amount": 1.5}),
        ("cross_sell_won", {"amount": "Infinity"}),
        ("feedback_submitted", {"from_division": "a", "to_division": "b", "about": "lead"}),
        ("feedback_submitted", {"from_division": "a", "to_division": "b", "about": "lead", "rating": 9}),
    ],
)
def test_malformed_revenue_or_feedback_is_rejected_for_the_dead_letter_topic(
    kind: str, properties: dict[str, Any]
) -> None:
    d = Driver()
    walk(d, FORM)
    with pytest.raises(EventRejected, match=r"^event "):
        d.send(kind, properties)


def test_revenue_is_booked_even_without_a_stage_change() -> None:
    d = Driver()
    walk(d, FORM, WON, "onboarding_completed")
    out = d.step(WON, hours=24 * 40)
    assert [type(e) for e in out] == [RevenueBooked]


def test_sla_deadline_uses_the_clamped_entry_time() -> None:
    d = Driver()
    d.step(FORM, hours=5)
    (change,) = changes(d.send("form_submitted", {"form_id": "f", "email": "e", "intent": "high"}, hours=1))
    assert change.occurred_at == T0 + timedelta(hours=5)
    assert change.sla_due_at == T0 + timedelta(hours=29)
