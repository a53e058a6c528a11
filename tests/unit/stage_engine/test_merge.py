"""Merging two leads that turn out to be one person: survivor, stage, score, both streams."""

from __future__ import annotations

import pytest

from services.common.lead_events.events import LeadsMerged
from services.stage_engine.domain.decide import LeadMergedError, decide
from services.stage_engine.domain.evolve import evolve, fold
from services.stage_engine.domain.merge import decide_merge, merge_order

from .support import DISQUALIFIED, FORM, LOST, WON, Driver, Step, event, walk


def anonymous_visitor(points_pages: int = 2, hours: float = 0) -> Driver:
    d = Driver()
    for i in range(points_pages):
        d.send("page_viewed", {"path": "/pricing"}, anonymous_id="anon-1", lead_id=None, hours=hours + i / 60)
    return d


def crm_lead(*steps: Step, hours: float = 5) -> Driver:
    d = Driver()
    for i, step in enumerate(steps):
        kind, properties = (step, None) if isinstance(step, str) else step
        d.send(kind, properties, lead_id="crm-9", hours=hours + i)
    return d


def merge(a: Driver, b: Driver) -> tuple[Driver, Driver, list[LeadsMerged]]:
    assert a.lead and b.lead
    survivor, absorbed = merge_order(a.lead, b.lead)
    cause = event("identified", {"email": "x"}, anonymous_id="anon-1", lead_id="crm-9", hours=20)
    out = decide_merge(survivor, absorbed, cause, a.model)
    drivers = {a.lead.lead_id: a, b.lead.lead_id: b}
    for merged in out:
        assert isinstance(merged, LeadsMerged)
        target = drivers[merged.lead_id]
        target.lead = evolve(target.lead, merged)
        target.history.append(merged)
    return drivers[survivor.lead_id], drivers[absorbed.lead_id], [m for m in out if isinstance(m, LeadsMerged)]


def test_the_earlier_lead_survives_and_takes_the_further_stage_and_both_scores() -> None:
    visitor, worked = anonymous_visitor(), crm_lead(FORM, "lead_accepted", "meeting_scheduled")
    survivor, absorbed, out = merge(visitor, worked)
    assert survivor is visitor and absorbed is worked
    assert [m.role for m in out] == ["survivor", "absorbed"]
    s, a = survivor.lead, absorbed.lead
    assert s is not None and a is not None
    assert (s.stage, s.score) == ("sql", 22 + 10)
    assert s.stage_entered_at == worked.history[-2].occurred_at  # the stay in sql continues
    assert s.identities == {("anonymous", "anon-1"), ("crm", "crm-9")}
    assert s.divisions == {"marketing", "inside_sales"}
    assert s.sla_due_at is not None
    assert a.merged_into == s.lead_id
    with pytest.raises(LeadMergedError):
        decide(a, event("page_viewed", {"path": "/"}), absorbed.model)


def test_the_survivor_keeps_its_stage_when_it_is_further_along() -> None:
    early, late = crm_lead(FORM, "meeting_held", hours=0), anonymous_visitor(hours=3)
    survivor, _, out = merge(early, late)
    assert survivor is early and survivor.stage == "opportunity"
    assert out[0].stage_before == out[0].stage_after == "opportunity"


@pytest.mark.parametrize(
    "worked_steps,expected",
    [
        ([FORM, LOST], "nurture"),  # nurture ranks as mql, above the visitor's stage
        ([FORM, WON, "onboarding_completed", ("churned", {"reason": "x"})], "churned"),
    ],
)
def test_a_detour_ranks_as_its_merge_rank(worked_steps: list[Step], expected: str) -> None:
    survivor, _, _ = merge(anonymous_visitor(), crm_lead(*worked_steps))
    assert survivor.stage == expected


def test_on_equal_rank_the_success_path_stage_beats_the_detour() -> None:
    nurtured = crm_lead(FORM, DISQUALIFIED, hours=0)
    mql = Driver()
    mql.send(
        "form_submitted", {"form_id": "f", "email": "e", "intent": "high"}, anonymous_id="anon-1", lead_id=None, hours=1
    )
    survivor, _, _ = merge(nurtured, mql)
    assert survivor is nurtured and survivor.stage == "mql"


def test_points_since_entry_follow_the_kept_stay() -> None:
    rich = anonymous_visitor(points_pages=9)  # 99 points, a visitor
    nurtured = crm_lead(FORM, LOST, ("webinar_attended", {"webinar_id": "w"}))
    survivor, _, _ = merge(rich, nurtured)
    assert survivor.lead is not None
    assert (survivor.stage, survivor.score, survivor.lead.score_since_stage_entry) == ("nurture", 99 + 20, 10)


def test_the_survivors_stream_folds_to_the_live_state() -> None:
    survivor, absorbed, _ = merge(anonymous_visitor(), crm_lead(FORM, "meeting_held"))
    assert fold(survivor.history) == survivor.lead
    assert fold(absorbed.history) == absorbed.lead


def test_the_cause_event_is_then_decided_on_the_survivor() -> None:
    survivor, _, _ = merge(anonymous_visitor(), crm_lead(FORM))
    walk(survivor, "meeting_held")
    assert survivor.stage == "opportunity"


def test_wrong_order_or_self_merge_is_refused() -> None:
    a, b = anonymous_visitor(), crm_lead(FORM)
    assert a.lead and b.lead
    cause = event("identified")
    with pytest.raises(ValueError, match="survivor"):
        decide_merge(b.lead, a.lead, cause, a.model)
    with pytest.raises(ValueError, match="itself"):
        decide_merge(a.lead, a.lead, cause, a.model)


def test_equal_creation_times_break_ties_by_the_smaller_id() -> None:
    a, b = anonymous_visitor(hours=0), crm_lead(FORM, hours=0)
    assert a.lead and b.lead
    survivor, absorbed = merge_order(a.lead, b.lead)
    assert survivor.lead_id < absorbed.lead_id
    assert merge_order(b.lead, a.lead) == (survivor, absorbed)
