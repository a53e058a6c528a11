"""A model of one's own: CEL conditions, structured `where`, SLAs satisfied by a named event, "*" rules."""

from __future__ import annotations

import pytest

from services.common.lead_events.events import RevenueBooked, ScoreChanged, SlaMet
from services.common.stage_model.model import load_model

from .support import Driver, moved

MODEL = """
name: cel-test
divisions: [marketing, sales]
stages:
  - {name: visitor, division: marketing, phase: early}
  - {name: lead, division: marketing, phase: mid}
  - {name: hot, division: sales, phase: late}
  - {name: parked, division: marketing, phase: detour}
success_path: [visitor, lead, hot]
initial: {stage: visitor, id: seen}
transitions:
  - id: big_company
    on: form_submitted
    from: "*"
    to: hot
    when: >-
      has(event.properties.employees) && event.properties.employees >= 500
      && lead.score >= 5 && lead.stage != "hot"
  - {id: form, on: form_submitted, from: [visitor], to: lead}
  - {id: park, on: tracked, where: {name: park}, from: "*", to: parked}
  - {id: unpark, on: tracked, where: {name: park}, from: [parked], to: lead}
scoring:
  - id: demo_video
    on: tracked
    where: {name: demo_video}
    when: event.properties.seconds > 60
    points: 7
  - {id: any_track, on: tracked, points: 1}
slas:
  - {id: hot_call_2h, stage: hot, within: 2h, satisfied_by: [call_logged]}
revenue: {opportunity_won: new}
attribution:
  new: {marketing: 1, sales: 2}
"""


@pytest.fixture
def driver() -> Driver:
    return Driver(load_model(MODEL))


def test_a_cel_condition_sees_event_properties_and_the_lead(driver: Driver) -> None:
    driver.send("form_submitted", {"form_id": "f", "email": "e", "employees": 1000})
    assert (driver.stage, driver.score) == ("lead", 0)  # score 0 < 5: big_company did not hold
    driver.send("tracked", {"name": "demo_video", "seconds": 90})
    assert driver.score == 7
    assert moved(driver.send("form_submitted", {"form_id": "f", "email": "e", "employees": 1000})) == (
        "lead",
        "hot",
        "big_company",
    )


def test_a_failing_cel_evaluation_is_false_not_a_crash(driver: Driver) -> None:
    driver.send("tracked", {"name": "demo_video"})  # no `seconds`: demo_video does not hold
    assert [(e.rule, e.delta) for e in driver.history if isinstance(e, ScoreChanged)] == [("any_track", 1)]
    assert moved(driver.send("form_submitted", {"form_id": "f", "email": "e"})) == ("visitor", "lead", "form")


def test_a_named_event_satisfies_the_sla_once(driver: Driver) -> None:
    driver.send("tracked", {"name": "demo_video", "seconds": 61})
    driver.send("form_submitted", {"form_id": "f", "email": "e", "employees": 900}, hours=1)
    assert driver.stage == "hot"
    out = driver.send("call_logged", {"outcome": "ok"}, hours=2.5)
    assert len(out) == 1 and isinstance(out[0], SlaMet) and out[0].on_time is True
    assert driver.send("call_logged", {"outcome": "ok"}, hours=2.6) == []


def test_a_late_named_event_is_met_but_not_on_time(driver: Driver) -> None:
    driver.send("tracked", {"name": "demo_video", "seconds": 61})
    driver.send("form_submitted", {"form_id": "f", "email": "e", "employees": 900})
    out = driver.send("call_logged", hours=3)
    assert isinstance(out[0], SlaMet) and out[0].on_time is False


def test_wildcard_from_enters_a_detour_and_the_chain_stops_there(driver: Driver) -> None:
    driver.send("form_submitted", {"form_id": "f", "email": "e"})
    # park then unpark both match "tracked name=park"; the chain stops in the detour
    assert moved(driver.send("tracked", {"name": "park"})) == ("lead", "parked", "park")
    assert moved(driver.send("tracked", {"name": "park"})) == ("parked", "lead", "unpark")


def test_revenue_goes_to_the_divisions_that_owned_a_stage(driver: Driver) -> None:
    driver.send("form_submitted", {"form_id": "f", "email": "e"})
    (booked,) = [
        e for e in driver.send("opportunity_won", {"opportunity_id": "o", "amount": "99.99", "currency": "USD"})
    ]
    assert isinstance(booked, RevenueBooked)
    assert booked.shares == (("marketing", "99.99"),) and booked.currency == "USD"
