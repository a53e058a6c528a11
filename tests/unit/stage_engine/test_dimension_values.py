"""A lead's dimension values: DimensionsSet when an event shows a value the rule keeps, and what a merge keeps."""

from __future__ import annotations

import json

import orjson

from services.common.lead_events.event_codec import from_dict, to_dict
from services.common.lead_events.events import DimensionsSet, LeadsMerged
from services.stage_engine.adapters.snapshot_codec import lead_from_dict, lead_from_json, lead_to_dict
from services.stage_engine.domain.evolve import evolve, fold
from services.stage_engine.domain.merge import decide_merge, merge_order

from .support import Driver, event


def values(driver: Driver) -> dict[str, str]:
    assert driver.lead is not None
    return {name: value for name, value, _ in driver.lead.dimensions}


def sets(out: list[object]) -> list[tuple[tuple[str, str], ...]]:
    return [e.values for e in out if isinstance(e, DimensionsSet)]


def test_an_event_that_shows_values_sets_them_before_the_score_and_the_move() -> None:
    d = Driver()
    out = d.send(
        "form_submitted",
        {"form_id": "f", "email": "a@b.c", "utm_source": "google", "campaign": "spring"},
        account_id=None,
    )
    names = [type(e).__name__ for e in out]
    assert names == ["LeadCreated", "IdentityLinked", "DimensionsSet", "ScoreChanged", "StageChanged"]
    assert sets(out) == [(("source", "google"), ("campaign", "spring"))]
    assert values(d) == {"source": "google", "campaign": "spring"}


def test_first_touch_keeps_the_earliest_and_a_repeat_changes_nothing() -> None:
    d = Driver()
    d.send("page_viewed", {"path": "/", "utm_source": "google"}, hours=5)
    assert sets(d.send("page_viewed", {"path": "/", "utm_source": "google"}, hours=6)) == []
    assert sets(d.send("page_viewed", {"path": "/", "utm_source": "bing"}, hours=7)) == []  # later: first stays
    assert sets(d.send("page_viewed", {"path": "/", "utm_source": "ads"}, hours=1)) == [(("source", "ads"),)]
    assert values(d)["source"] == "ads"  # an event that happened earlier arrived late: it is the first touch


def test_owner_account_and_traits_keep_the_latest() -> None:
    d = Driver()
    d.send("lead_accepted", {"owner": "sato"}, hours=1)
    d.send("meeting_scheduled", {"owner": "sato"}, hours=2)  # the same owner again: nothing
    d.send("meeting_held", {"owner": "suzuki"}, hours=3)
    d.send("call_logged", {"owner": "tanaka"}, hours=4)  # not an event the owner rule reads
    d.send("identified", {"traits": {"employees": 40}}, hours=5)
    d.send("identified", {"traits": {"employees": 4000}}, hours=4.5)  # older than the value held: ignored
    d.send("page_viewed", {"path": "/"}, hours=6, account_id="acme")
    assert values(d) == {"owner": "suzuki", "segment": "smb", "account": "acme"}
    assert fold(d.history) == d.lead


def test_a_merge_keeps_per_dimension_what_its_rule_says() -> None:
    early = Driver()  # created first: the survivor
    early.send("page_viewed", {"path": "/", "utm_source": "google"}, anonymous_id="anon-1", lead_id=None, hours=2)
    early.send("lead_accepted", {"owner": "sato"}, anonymous_id="anon-1", lead_id=None, hours=9)
    late = Driver()
    late.send("page_viewed", {"path": "/", "utm_source": "bing"}, anonymous_id="anon-2", lead_id=None, hours=3)
    late.send("lead_accepted", {"owner": "suzuki"}, anonymous_id="anon-2", lead_id=None, hours=4)
    late.send("identified", {"traits": {"employees": 500}}, anonymous_id="anon-2", lead_id=None, hours=5)
    late.send("page_viewed", {"path": "/", "utm_source": "ads"}, anonymous_id="anon-2", lead_id=None, hours=1)
    assert early.lead and late.lead
    survivor, absorbed = merge_order(early.lead, late.lead)
    assert survivor is early.lead
    cause = event("identified", {}, anonymous_id="anon-1", lead_id="crm-1", hours=20)
    out = decide_merge(survivor, absorbed, cause, early.model)
    after = evolve(survivor, out[0])
    kept = {name: value for name, value, _ in after.dimensions}
    # source: "ads" was set at 01:00, before the survivor's google (02:00); owner: sato (09:00) is the latest;
    # segment only the absorbed lead had
    assert kept == {"source": "ads", "owner": "sato", "segment": "mid_market"}
    assert all(isinstance(m, LeadsMerged) and m.dimensions_after == after.dimensions for m in out)


def test_the_codec_and_the_snapshot_carry_the_values() -> None:
    d = Driver()
    out = d.send("form_submitted", {"form_id": "f", "email": "a@b.c", "utm_source": "google"}, hours=1)
    for domain_event in out:
        assert from_dict(json.loads(json.dumps(to_dict(domain_event)))) == domain_event
    assert d.lead is not None and d.lead.dimensions == (("source", "google", "2024-05-01T10:00:00.000000+00:00"),)
    state = orjson.loads(orjson.dumps(d.lead, default=sorted))
    assert state == lead_to_dict(d.lead)
    assert lead_from_json(json.dumps(state)) == lead_from_dict(state) == d.lead


def test_an_old_merge_without_values_reads_as_none() -> None:
    old = {"type": "LeadsMerged", **{k: v for k, v in to_dict(_some_merge()).items() if k != "dimensions_after"}}
    old.pop("type")
    merged = from_dict({"type": "LeadsMerged", **old})
    assert isinstance(merged, LeadsMerged) and merged.dimensions_after == ()


def _some_merge() -> LeadsMerged:
    a, b = Driver(), Driver()
    a.send("page_viewed", {"path": "/"}, anonymous_id="x", lead_id=None, hours=1)
    b.send("page_viewed", {"path": "/"}, anonymous_id="y", lead_id=None, hours=2)
    assert a.lead and b.lead
    first = decide_merge(a.lead, b.lead, event("identified", {}, anonymous_id="x", lead_id="c"), a.model)[0]
    assert isinstance(first, LeadsMerged)
    return first
