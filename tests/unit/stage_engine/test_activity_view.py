"""The lead view's activity, campaigns and score history shaped from stored rows (app/activity_view.py): the top
of each list, what lies beyond it, views not itemised, first and last touch."""

from __future__ import annotations

from datetime import timedelta

from services.stage_engine.adapters.lead_activity_queries import ActivityRow, ScoreChange
from services.stage_engine.app.activity_view import (
    SCORE_CHANGES_SHOWN,
    TOP_KEYS,
    activity_view,
    campaigns_view,
    counted,
    score_history,
)
from services.stage_engine.domain.activity import (
    BEFORE,
    NO_CAMPAIGN,
    NOT_ITEMISED,
    PAGE,
    SCREEN,
    SINCE,
    campaign_key,
)
from tests.unit.stage_engine.support import T0


def row(
    kind: str, phase: str, key: str, views: int, first: float = 0, last: float = 0, campaign: str = NO_CAMPAIGN
) -> ActivityRow:
    return ActivityRow(kind, phase, key, campaign, views, T0 + timedelta(hours=first), T0 + timedelta(hours=last))


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def test_the_most_viewed_first_then_the_latest_seen_and_the_rest_summed() -> None:
    rows = [row(PAGE, BEFORE, f"/p{n}", 1, last=n) for n in range(TOP_KEYS + 3)]
    rows += [row(PAGE, BEFORE, "/top", 9, first=-1, last=1), row(PAGE, BEFORE, NOT_ITEMISED, 4, last=50)]
    pages = counted(rows, "path", "paths")
    assert pages["views"] == TOP_KEYS + 3 + 9 + 4
    assert pages["paths"] == TOP_KEYS + 4
    assert pages["top"][0] == {"path": "/top", "views": 9, "first_seen": at(-1), "last_seen": at(1)}
    assert [p["path"] for p in pages["top"][1:3]] == [f"/p{TOP_KEYS + 2}", f"/p{TOP_KEYS + 1}"]
    assert len(pages["top"]) == TOP_KEYS
    assert pages["beyond_top"] == {"paths": 4, "views": 4}
    assert pages["not_itemised_views"] == 4
    assert (pages["first_seen"], pages["last_seen"]) == (at(-1), at(50))


def test_nothing_viewed() -> None:
    empty = counted([], "name", "screens")
    assert empty == {
        "views": 0,
        "screens": 0,
        "first_seen": None,
        "last_seen": None,
        "top": [],
        "beyond_top": {"screens": 0, "views": 0},
        "not_itemised_views": 0,
    }


def test_activity_is_split_by_identification() -> None:
    rows = [row(PAGE, BEFORE, "/a", 2, 0, 1), row(SCREEN, SINCE, "Home", 1, 5, 5), row(PAGE, SINCE, "/b", 1, 3, 4)]
    view = activity_view(rows, {"by": "crm", "at": at(2), "cause_event_id": "e"})
    assert (view["identified_by"], view["identified_at"]) == ("crm", at(2))
    assert view["before_identification"]["page_views"]["views"] == 2
    assert view["before_identification"]["screen_views"]["views"] == 0
    since = view["since_identification"]
    assert (since["first_seen"], since["last_seen"]) == (at(3), at(5))
    assert since["screen_views"]["top"][0]["name"] == "Home"
    anonymous = activity_view(rows, None)
    assert (anonymous["identified_by"], anonymous["identified_at"]) == (None, None)


def test_a_path_seen_under_several_campaigns_is_one_path() -> None:
    spring = campaign_key(("spring", None, None))
    rows = [row(PAGE, BEFORE, "/", 2, 1, 2), row(PAGE, BEFORE, "/", 1, 0, 5, campaign=spring)]
    pages = counted(rows, "path", "paths")
    assert pages["top"] == [{"path": "/", "views": 3, "first_seen": at(0), "last_seen": at(5)}]
    assert pages["paths"] == 1


def test_campaigns_in_the_order_they_brought_the_person_with_first_and_last_touch() -> None:
    spring, launch = campaign_key(("spring", "google", "cpc")), campaign_key(("launch", None, None))
    rows = [
        row(PAGE, BEFORE, "/", 2, 1, 3, campaign=spring),
        row(PAGE, SINCE, "/pricing", 1, 6, 6, campaign=spring),
        row(SCREEN, BEFORE, "Home", 1, 0, 0, campaign=launch),
        row(PAGE, BEFORE, NOT_ITEMISED, 5, 2, 2),
        row(PAGE, BEFORE, "/a", 9, 0, 9),
    ]
    view = campaigns_view(rows)
    assert view["first_touch"] == {"campaign": "launch", "source": None, "medium": None, "at": at(0)}
    assert view["last_touch"] == {"campaign": "spring", "source": "google", "medium": "cpc", "at": at(6)}
    assert [(c["campaign"], c["views"], c["views_before_identification"]) for c in view["campaigns"]] == [
        ("launch", 1, 1),
        ("spring", 3, 2),
    ]
    assert view["views"] == 4 and view["beyond_top"] == {"campaigns": 0, "views": 0}
    none = campaigns_view([row(PAGE, BEFORE, "/a", 1)])
    assert none["first_touch"] is None and none["campaigns"] == [] and none["views"] == 0


def test_score_history_shows_the_latest_changes_and_sums_the_earlier() -> None:
    shown = [
        ScoreChange("L", 7, "e7", "page_viewed", "2026-10-01T09:00:00+00:00", "pricing_page_viewed", 11),
        ScoreChange("M", 9, "e9", None, "2026-10-02T09:00:00+00:00", "form_submitted", 10),
    ]
    history = score_history(30, shown, count=5, points=30)
    assert history["score"] == 30 and history["changes"] == 5
    assert history["before_shown"] == {"changes": 3, "points": 9}
    assert history["shown"][0] == {
        "rule": "pricing_page_viewed",
        "points": 11,
        "event": {"event_id": "e7", "type": "page_viewed", "occurred_at": "2026-10-01T09:00:00+00:00"},
        "lead_id": "L",
        "position": 7,
    }
    assert history["shown"][1]["event"]["type"] is None  # stored before the cause's type was kept
    assert SCORE_CHANGES_SHOWN == 50
