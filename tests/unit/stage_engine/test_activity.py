"""Views counted per lead (domain/activity.py) and tallied by the batch: what counts, before or since
identification, the campaign of a view, and counters that follow a merge in the batch."""

from __future__ import annotations

from datetime import timedelta

from services.common.stage_model.model import default_model, load_model
from services.stage_engine.domain.activity import (
    BEFORE,
    MAX_CAMPAIGN_CHARACTERS,
    MAX_KEY_CHARACTERS,
    NO_CAMPAIGN,
    NOT_ITEMISED,
    PAGE,
    SCREEN,
    SINCE,
    ActivityTally,
    campaign_from_key,
    campaign_key,
    campaign_of,
    touch,
)
from services.stage_engine.domain.batch import apply_batch
from services.stage_engine.domain.lead import EMAIL_HASH
from tests.unit.stage_engine.support import T0, event


def test_a_page_view_counts_its_path_and_a_screen_view_its_name() -> None:
    view = touch(event("page_viewed", {"path": "/pricing"}, anonymous_id="a", lead_id=None))
    assert view == (PAGE, "/pricing", NO_CAMPAIGN)
    assert touch(event("screen_viewed", {"name": "Home"}, anonymous_id="a", lead_id=None)) == (SCREEN, "Home", "")
    assert touch(event("screen_viewed", {}, anonymous_id="a", lead_id=None)) == (SCREEN, NOT_ITEMISED, "")
    assert touch(event("form_submitted", {"path": "/x"})) is None


def test_keys_are_cut_and_made_storable() -> None:
    long = "/" + "x" * 2000
    assert key_of({"path": long}) == long[:MAX_KEY_CHARACTERS]
    assert key_of({"path": "/a\x00b"}) == "/ab"
    assert key_of({"path": "/a\ud800"}) == "/a?"
    assert key_of({"path": 42}) == NOT_ITEMISED


def key_of(properties: dict[str, object]) -> str:
    found = touch(event("page_viewed", properties))
    assert found is not None
    return found[1]


def campaign_seen(properties: dict[str, object]) -> str:
    found = touch(event("page_viewed", {"path": "/", **properties}))
    assert found is not None
    return found[2]


def test_the_campaign_comes_from_properties_before_the_url() -> None:
    url = "https://e.test/p?utm_source=google&utm_medium=cpc&utm_campaign=spring&email=x"
    assert campaign_of({"url": url}) == ("spring", "google", "cpc")
    assert campaign_of({"url": url, "campaign": "launch", "utm_source": "news"}) == ("launch", "news", "cpc")
    assert campaign_of({"campaign": "launch"}) == ("launch", None, None)
    assert campaign_of({"url": "https://e.test/p?a=1", "campaign": " "}) is None
    assert campaign_of({"url": "http://[::1/x?utm_source=a"}) is None  # urlsplit refuses it: no campaign
    assert campaign_of({"campaign": "c" * 500}) == ("c" * MAX_CAMPAIGN_CHARACTERS, None, None)


def test_a_view_counts_under_its_campaign_key_remembered_or_not() -> None:
    spring = campaign_key(("spring", "google", None))
    for _ in range(2):  # computed, then remembered
        assert campaign_seen({"url": "https://e.test/?utm_campaign=spring&utm_source=google"}) == spring
    assert campaign_seen({"campaign": {"name": "not text"}, "utm_campaign": "spring", "utm_source": "google"}) == spring
    assert campaign_seen({"url": "https://e.test/?q=1"}) == NO_CAMPAIGN
    assert campaign_seen({}) == NO_CAMPAIGN
    assert campaign_from_key(campaign_key(("spring", None, "cpc"))) == ("spring", None, "cpc")


def test_the_tally_counts_and_keeps_first_and_last_event_time() -> None:
    tally = ActivityTally()
    for hours in (2, 0, 1):
        tally.add("L", False, event("page_viewed", {"path": "/a"}, hours=hours))
    tally.add("L", True, event("page_viewed", {"path": "/a"}, hours=5))
    tally.add("L", True, event("page_viewed", {"path": "/a", "campaign": "x"}, hours=6))
    tally.add("L", True, event("form_submitted", {"path": "/a"}, hours=6))
    at = [T0 + timedelta(hours=h) for h in range(7)]
    assert tally.counters == {
        ("L", PAGE, BEFORE, "/a", ""): [3, at[0], at[2]],
        ("L", PAGE, SINCE, "/a", ""): [1, at[5], at[5]],
        ("L", PAGE, SINCE, "/a", campaign_key(("x", None, None))): [1, at[6], at[6]],
    }


def test_rows_count_an_absorbed_lead_on_its_survivor() -> None:
    tally = ActivityTally()
    tally.add("A", False, event("page_viewed", {"path": "/a"}, hours=1))
    tally.add("B", False, event("page_viewed", {"path": "/a"}, hours=3))
    tally.add("B", False, event("page_viewed", {"path": "/b"}, hours=4))
    rows = sorted(tally.rows({"B": "A"}))
    assert rows == [
        ("A", PAGE, BEFORE, "/a", "", 2, T0 + timedelta(hours=1), T0 + timedelta(hours=3)),
        ("A", PAGE, BEFORE, "/b", "", 1, T0 + timedelta(hours=4), T0 + timedelta(hours=4)),
    ]
    assert len(tally.rows({})) == 3


def test_the_batch_splits_views_by_identification_and_keeps_the_cause_types() -> None:
    model = default_model()
    first = event("page_viewed", {"path": "/blog"}, anonymous_id="a1", lead_id=None)
    form = event("form_submitted", {"form_id": "demo"}, anonymous_id="a1", lead_id=None, hours=1)
    after = event("page_viewed", {"path": "/blog"}, anonymous_id="a1", lead_id=None, hours=2)
    outcome = apply_batch([(first, ()), (form, ((EMAIL_HASH, "h"),)), (after, ())], {}, {}, model)
    (lead_id,) = {key[0] for key in outcome.activity.counters}
    assert outcome.activity.counters[(lead_id, PAGE, BEFORE, "/blog", "")][0] == 1
    assert outcome.activity.counters[(lead_id, PAGE, SINCE, "/blog", "")][0] == 1
    assert outcome.cause_types == {
        first.event_id: "page_viewed",
        form.event_id: "form_submitted",
        after.event_id: "page_viewed",
    }


UNSCORED = """
name: no-scoring
divisions: [marketing]
stages:
  - {name: visitor, division: marketing, phase: early}
success_path: [visitor]
initial: {stage: visitor, id: seen}
transitions: []
"""


def test_a_view_that_changes_nothing_is_counted_but_has_no_cause_type() -> None:
    model = load_model(UNSCORED)
    view = event("page_viewed", {"path": "/"}, anonymous_id="a1", lead_id=None)
    lead = apply_batch([(view, ())], {}, {}, model).leads
    again_view = event("page_viewed", {"path": "/"}, anonymous_id="a1", lead_id=None, hours=1)
    (lead_id,) = lead
    again = apply_batch([(again_view, ())], lead, {("anonymous", "a1"): lead_id}, model)
    assert again.appended == [] and again.cause_types == {}
    at = again_view.occurred_at
    assert again.activity.counters == {(lead_id, PAGE, BEFORE, "/", ""): [1, at, at]}


def test_views_of_leads_merged_in_the_batch_stay_on_the_lead_they_were_applied_to() -> None:
    model = default_model()
    laptop = event("page_viewed", {"path": "/a"}, anonymous_id="laptop", lead_id=None)
    phone = event("page_viewed", {"path": "/b"}, anonymous_id="phone", lead_id=None, hours=1)
    link = event("identified", {}, anonymous_id="phone", lead_id="crm-9", hours=2)
    join = event("identified", {}, anonymous_id="laptop", lead_id="crm-9", hours=3)
    outcome = apply_batch([(laptop, ()), (phone, ()), (link, ()), (join, ())], {}, {}, model)
    assert len(outcome.repointed) == 1
    ((absorbed, survivor),) = outcome.repointed.items()
    rows = outcome.activity.rows(outcome.repointed)
    assert {row[0] for row in rows} == {survivor}
    assert {row[3] for row in rows} == {"/a", "/b"} and absorbed != survivor
