"""Segment `screen` and `page` calls as views: screen_viewed, and what a view keeps of its context."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.domain.segment import map_segment_call
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import check, errors_of

TS = "2024-05-01T00:30:00.000Z"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def call(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": f"m-{kind}", "timestamp": TS, "anonymousId": "anon-1", **fields}


def test_a_screen_call_is_a_screen_view_named_by_the_call(validator: EventValidator) -> None:
    screen = call(
        "screen",
        name="Pricing",
        category="Plans",
        properties={"plan": "team", "name": "overridden"},
        context={"library": {"name": "analytics-ios"}, "device": {"type": "ios", "model": "iPhone15,2"}},
    )
    envelope = map_segment_call(screen, path_type=None)
    assert envelope == {
        "event_id": "m-screen",
        "type": "screen_viewed",
        "occurred_at": TS,
        "anonymous_id": "anon-1",
        "properties": {"plan": "team", "name": "Pricing", "category": "Plans", "device_class": "mobile"},
    }
    [(_, event)] = check(validator, envelope).accepted  # a screen's name is not a person's name
    assert event.type == "screen_viewed" and event.properties["name"] == "Pricing"


def test_a_screen_without_a_call_name_takes_the_name_of_its_properties(validator: EventValidator) -> None:
    envelope = map_segment_call(call("screen", name="", properties={"name": "Home"}), path_type="screen")
    assert envelope["properties"] == {"name": "Home"}
    assert check(validator, envelope).errors == []


def test_a_screen_with_no_name_at_all_is_refused(validator: EventValidator) -> None:
    assert errors_of(validator, map_segment_call(call("screen"), path_type="screen")) == [
        ("properties.name", "is required")
    ]


def test_an_anonymous_screen_with_personal_data_is_refused(validator: EventValidator) -> None:
    screen = call("screen", name="Profile", properties={"email": "hanako@example.co.jp"})
    [(field, reason)] = errors_of(validator, map_segment_call(screen, path_type="screen"))
    assert field == "properties.email" and reason.startswith("personal data")


def test_a_track_call_named_screen_viewed_is_a_screen_view(validator: EventValidator) -> None:
    envelope = map_segment_call(call("track", event="Screen Viewed", properties={"name": "Cart"}), path_type=None)
    assert envelope["type"] == "screen_viewed" and check(validator, envelope).errors == []


def test_an_anonymous_page_keeps_path_utm_referrer_origin_and_device_class(validator: EventValidator) -> None:
    """What analytics.js sends for a page view from a search ad, and what of it is kept (docs/privacy.md)."""
    page = call(
        "page",
        properties={
            "path": "/pricing",
            "url": "https://www.example.co.jp/pricing?utm_source=google&utm_campaign=spring&email=a%40b.jp#top",
            "search": "?utm_source=google&utm_campaign=spring&email=a%40b.jp",
            "referrer": "https://www.google.com/search?q=hanako+yamada",
            "title": "Pricing",
        },
        context={
            "ip": "203.0.113.7",
            "userAgent": IPHONE,
            "userAgentData": {"mobile": True, "platform": "iOS"},
            "locale": "ja-JP",
            "campaign": {"name": "spring", "source": "google", "medium": "cpc"},
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
        },
    )
    envelope = map_segment_call(page, path_type="page")
    assert envelope["properties"] == {
        "path": "/pricing",
        "url": "https://www.example.co.jp/pricing?utm_source=google&utm_campaign=spring",
        "referrer": "https://www.google.com/",
        "title": "Pricing",
        "campaign": "spring",
        "utm_source": "google",
        "utm_medium": "cpc",
        "device_class": "mobile",
    }
    assert "ip" not in str(envelope) and "iPhone" not in str(envelope)
    assert check(validator, envelope).errors == []


def test_an_identified_page_keeps_its_url_and_referrer_as_sent() -> None:
    props = {"path": "/a", "url": "https://example.jp/a?plan=pro", "referrer": "https://example.jp/b?x=1"}
    envelope = map_segment_call(call("page", userId="crm-1", properties=dict(props)), path_type="page")
    assert {k: envelope["properties"][k] for k in props} == props


def test_the_context_never_replaces_what_the_call_sent() -> None:
    page = call(
        "page",
        properties={"path": "/", "campaign": "own", "utm_source": "own", "device_class": "desktop"},
        context={"campaign": {"name": "ctx", "source": "ctx"}, "userAgent": IPHONE},
    )
    props = map_segment_call(page, path_type="page")["properties"]
    assert (props["campaign"], props["utm_source"], props["device_class"]) == ("own", "own", "desktop")


@pytest.mark.parametrize("bad", [5, "x" * 4097])
def test_a_url_or_referrer_the_schema_refuses_is_left_for_validation_to_refuse(
    validator: EventValidator, bad: object
) -> None:
    for key in ("url", "referrer"):
        envelope = map_segment_call(call("page", properties={"path": "/", key: bad}), path_type="page")
        assert envelope["properties"][key] == bad
        assert [f for f, _ in errors_of(validator, envelope)] == [f"properties.{key}"]
