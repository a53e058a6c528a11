"""Scoring (anonymous history, the event that crosses 30), SLA deadlines, time policy, model version."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.lead_events.events import IdentityLinked, ScoreChanged, StageChanged
from services.common.stage_model.model import default_model

from .support import FORM, HIGH_INTENT_FORM, T0, WON, Driver, changes, moved, walk


def test_anonymous_history_counts_once_identified_and_mql_is_entered_at_that_event() -> None:
    d = Driver()
    for _ in range(2):
        d.send("page_viewed", {"path": "/pricing/enterprise"}, anonymous_id="anon-1", lead_id=None)  # +11 each
    assert (d.stage, d.score) == ("visitor", 22)  # anonymous: never mql
    out = d.step(FORM, anonymous_id="anon-1")  # +10 -> 32
    assert [type(e) for e in out] == [IdentityLinked, ScoreChanged, StageChanged]
    change = changes(out)[0]
    assert (change.from_stage, change.to_stage, change.rule, change.via) == (
        "visitor",
        "mql",
        "score_reached_mql",
        ("identified",),
    )


def test_the_event_that_brings_the_score_to_30_moves_the_lead_score_first() -> None:
    d = Driver()
    walk(d, FORM, ("webinar_attended", {"webinar_id": "w"}), ("content_downloaded", {"content_id": "c"}))
    assert (d.stage, d.score) == ("lead", 25)
    d.send("email_clicked", {"campaign": "c"})
    d.send("email_clicked", {"campaign": "c"})
    assert (d.stage, d.score) == ("lead", 29)
    out = d.send("page_viewed", {"path": "/docs"})
    assert [type(e) for e in out] == [ScoreChanged, StageChanged]
    assert moved(out) == ("lead", "mql", "score_reached_mql")


@pytest.mark.parametrize(
    "path,points", [("/pricing", 11), ("/pricing/", 11), ("/pricing/team", 11), ("/pricing-old", 1)]
)
def test_pricing_pages_score_eleven(path: str, points: int) -> None:
    d = Driver()
    d.send("page_viewed", {"path": path}, anonymous_id="a", lead_id=None)
    assert d.score == points


def test_backward_event_may_still_score() -> None:
    d = Driver()
    walk(d, FORM, "meeting_held")
    out = d.step(FORM)
    assert moved(out) is None and [type(e) for e in out] == [ScoreChanged]


def test_sla_deadlines_are_stamped_on_entry() -> None:
    d = Driver()
    due = {}
    for step in [HIGH_INTENT_FORM, "lead_accepted", "meeting_scheduled", "meeting_held", WON]:
        out = d.step(step)
        change = changes(out)[0]
        due[change.to_stage] = change.sla_due_at and change.sla_due_at - change.occurred_at
    assert due == {
        "mql": timedelta(hours=24),
        "sal": None,
        "sql": timedelta(days=14),
        "opportunity": None,
        "onboarding": timedelta(days=30),
    }


def test_a_late_event_never_makes_a_negative_stay() -> None:
    d = Driver()
    d.step(FORM, hours=10)
    out = d.send("lead_accepted", hours=2)  # occurred before the lead entered its stage
    change = changes(out)[0]
    assert change.occurred_at == T0 + timedelta(hours=10)
    assert change.event_occurred_at == T0 + timedelta(hours=2)
    assert change.from_entered_at == change.occurred_at


def test_the_model_version_is_recorded_with_every_change() -> None:
    d = Driver()
    walk(d, FORM, "meeting_held")
    assert {c.model_version for c in changes(d.history)} == {default_model().version}
