"""Example-based tests: every row of PRODUCT.md's stage table through the shipped model, plus skips."""

from __future__ import annotations

import pytest

from services.common.lead_events.events import IdentityLinked, LeadCreated, ScoreChanged, StageChanged

from .support import DISQUALIFIED, FORM, HIGH_INTENT_FORM, LOST, WON, Driver, Step, moved, walk


def test_first_anonymous_event_makes_a_visitor() -> None:
    d = Driver()
    out = d.send("page_viewed", {"path": "/blog"}, anonymous_id="anon-1", lead_id=None)
    assert [type(e) for e in out] == [LeadCreated, IdentityLinked, ScoreChanged, StageChanged]
    assert moved(out) == (None, "visitor", "first_seen")
    assert d.lead is not None and d.lead.identities == {("anonymous", "anon-1")}
    assert d.score == 1


@pytest.mark.parametrize("kind", ["form_submitted", "identified"])
def test_form_or_identify_turns_a_visitor_into_a_lead(kind: str) -> None:
    d = Driver()
    d.send("page_viewed", {"path": "/"}, anonymous_id="anon-1", lead_id=None)
    props = {"email": "x@example.com"} if kind == "identified" else {"form_id": "f1", "email": "x@example.com"}
    out = d.send(kind, props, anonymous_id="anon-1", lead_id="crm-1")
    assert moved(out) == ("visitor", "lead", "identified")
    assert d.lead is not None and ("crm", "crm-1") in d.lead.identities
    assert sum(isinstance(e, IdentityLinked) for e in out) == 1  # the anonymous id was known already


def test_a_form_for_a_new_person_creates_a_lead_directly() -> None:
    out = Driver().step(FORM)
    assert moved(out) == (None, "lead", "identified")


@pytest.mark.parametrize("prior,from_stage", [([], None), (["page_viewed"], "visitor"), ([FORM], "lead")])
def test_high_intent_form_goes_straight_to_mql(prior: list[Step], from_stage: str | None) -> None:
    d = Driver()
    for step in prior:
        d.step(step if step != "page_viewed" else ("page_viewed", {"path": "/"}))
    out = d.step(HIGH_INTENT_FORM)
    assert moved(out) == (from_stage, "mql", "high_intent_form")


@pytest.mark.parametrize(
    "steps,expected",
    [
        ([FORM, HIGH_INTENT_FORM, "lead_accepted"], ("mql", "sal", "lead_accepted")),
        ([FORM, "lead_accepted", "meeting_scheduled"], ("sal", "sql", "meeting_scheduled")),
        ([FORM, "lead_accepted", "meeting_scheduled", "meeting_held"], ("sql", "opportunity", "opportunity_opened")),
        (
            [FORM, "lead_accepted", ("opportunity_created", {"opportunity_id": "o"})],
            ("sal", "opportunity", "opportunity_opened"),
        ),
        ([FORM, "meeting_held", WON], ("opportunity", "onboarding", "opportunity_won")),
        ([FORM, "meeting_held", WON, "onboarding_completed"], ("onboarding", "active", "onboarding_completed")),
        ([FORM, "lead_accepted", DISQUALIFIED], ("sal", "nurture", "lead_disqualified")),
        ([FORM, "meeting_held", LOST], ("opportunity", "nurture", "opportunity_lost")),
        (
            [FORM, "meeting_held", WON, "onboarding_completed", ("churned", {"reason": "x"})],
            ("active", "churned", "churned"),
        ),
        ([FORM, WON, ("churned", {"reason": "x"}), WON], ("churned", "onboarding", "win_back")),
        ([FORM, LOST, "lead_accepted"], ("nurture", "sal", "lead_accepted")),
        ([FORM, LOST, "meeting_scheduled"], ("nurture", "sql", "meeting_scheduled")),
    ],
)
def test_each_transition_of_the_table(steps: list[Step], expected: tuple[str, str, str]) -> None:
    d = Driver()
    *before, last = steps
    walk(d, *before)
    out = d.step(last)
    assert moved(out) == expected


@pytest.mark.parametrize(
    "steps,expected",
    [
        ([FORM, "meeting_scheduled"], ("lead", "sql", "meeting_scheduled")),
        ([FORM, "meeting_held"], ("lead", "opportunity", "opportunity_opened")),
        ([FORM, WON], ("lead", "onboarding", "opportunity_won")),
        (["meeting_scheduled"], (None, "sql", "meeting_scheduled")),
    ],
)
def test_crm_events_skip_forward_with_one_recorded_change(
    steps: list[Step], expected: tuple[str | None, str, str]
) -> None:
    d = Driver()
    *before, last = steps
    walk(d, *before)
    out = d.step(last)
    assert moved(out) == expected


@pytest.mark.parametrize(
    "steps,event",
    [
        ([FORM, "meeting_held"], "lead_accepted"),
        ([FORM, "meeting_held"], "meeting_scheduled"),
        ([FORM, WON], "meeting_held"),
        ([FORM, WON, "onboarding_completed"], "opportunity_won"),
        ([FORM], "onboarding_completed"),
        ([FORM], "churned"),
        ([FORM, "meeting_held", WON, ("churned", {"reason": "x"})], "lead_accepted"),
    ],
)
def test_backward_or_unmodelled_moves_change_nothing(steps: list[Step], event: str) -> None:
    d = Driver()
    walk(d, *steps)
    stage = d.stage
    props = {"opportunity_id": "o", "amount": "1", "reason": "x"}
    assert moved(d.send(event, props)) is None
    assert d.stage == stage


@pytest.mark.parametrize("event", ["health_reported", "call_logged", "tracked"])
def test_events_no_rule_names_change_nothing_for_a_known_lead(event: str) -> None:
    d = Driver()
    walk(d, FORM)
    assert d.send(event, {"score": 50, "outcome": "ok", "name": "x"}) == []


def test_recycled_from_nurture_by_a_high_intent_form() -> None:
    d = Driver()
    walk(d, FORM, LOST)
    assert moved(d.step(HIGH_INTENT_FORM)) == ("nurture", "mql", "recycled_high_intent_form")


def test_recycled_from_nurture_by_30_more_points_since_entering_it() -> None:
    d = Driver()
    walk(d, FORM, ("webinar_attended", {"webinar_id": "w"}), ("webinar_attended", {"webinar_id": "w"}))
    assert d.stage == "mql" and d.score == 30
    walk(d, DISQUALIFIED)
    assert d.stage == "nurture"
    walk(d, *[("webinar_attended", {"webinar_id": "w"})] * 2, *[("page_viewed", {"path": "/"})] * 9)
    assert (d.stage, d.score) == ("nurture", 59)  # 29 points since entering nurture
    assert moved(d.send("page_viewed", {"path": "/"})) == ("nurture", "mql", "recycled_by_score")


def test_a_normal_form_in_nurture_only_scores() -> None:
    d = Driver()
    walk(d, FORM, LOST)
    out = d.step(FORM)
    assert moved(out) is None and d.stage == "nurture"
