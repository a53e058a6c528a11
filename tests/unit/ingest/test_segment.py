"""Segment-spec calls (Segment's and RudderStack's SDKs) mapped onto the envelope, then validated."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.domain.segment import SegmentBodyError, map_segment_batch, map_segment_call, track_type
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import check, errors_of

TS = "2024-05-01T00:30:00.000Z"


def call(kind: str, **fields: Any) -> dict[str, Any]:
    """A call as analytics.js sends it (context and integrations included)."""
    base: dict[str, Any] = {
        "type": kind,
        "messageId": f"ajs-{kind}-1",
        "timestamp": TS,
        "anonymousId": "anon-1",
        "context": {"ip": "203.0.113.7", "library": {"name": "analytics.js", "version": "4.1"}},
        "integrations": {},
    }
    return {**base, **fields}


def test_page_maps_to_page_viewed_from_properties_and_context(validator: EventValidator) -> None:
    page = call(
        "page",
        name="Pricing",
        properties={"title": "Pricing | Example", "search": "?plan=pro"},
        context={
            "page": {
                "path": "/pricing",
                "url": "https://example.com/pricing?plan=pro",
                "referrer": "https://google.com/",
            },
            "campaign": {"name": "spring", "source": "google"},
        },
    )
    envelope = map_segment_call(page, path_type=None)
    assert envelope == {
        "event_id": "ajs-page-1",
        "type": "page_viewed",
        "occurred_at": TS,
        "anonymous_id": "anon-1",
        "properties": {
            "path": "/pricing",
            "url": "https://example.com/pricing",  # anonymous: the query string goes, but for UTM parameters
            "title": "Pricing | Example",
            "referrer": "https://google.com/",
            "page_name": "Pricing",
            "campaign": "spring",
            "utm_source": "google",
        },
    }
    [(_, event)] = check(validator, envelope).accepted  # a page name is not a person's name
    assert event.type == "page_viewed" and event.anonymous_id == "anon-1"


def test_a_page_without_a_path_takes_the_urls_path() -> None:
    page = call("page", userId="crm-42", properties={"url": "https://example.com/docs/start?x=1"})
    envelope = map_segment_call(page, path_type=None)
    assert envelope["properties"] == {"url": "https://example.com/docs/start?x=1", "path": "/docs/start"}


def test_an_anonymous_pages_referrer_keeps_only_its_origin(validator: EventValidator) -> None:
    page = call("page", properties={"path": "/", "referrer": "https://mail.example.com/?to=hanako%40example.co.jp"})
    envelope = map_segment_call(page, path_type="page")
    assert envelope["properties"] == {"path": "/", "referrer": "https://mail.example.com/"}
    assert check(validator, envelope).errors == []


def test_a_page_with_an_email_in_a_utm_parameter_is_refused(validator: EventValidator) -> None:
    page = call("page", properties={"url": "https://example.jp/?utm_content=hanako%40example.co.jp&a=1"})
    [(field, reason)] = errors_of(validator, map_segment_call(page, path_type="page"))
    assert field == "properties.url" and reason.startswith("personal data (an email address)")


def test_identify_maps_to_identified_with_traits_and_email(validator: EventValidator) -> None:
    identify = call("identify", userId="crm-42", traits={"email": "hanako@example.co.jp", "company": "Example KK"})
    envelope = map_segment_call(identify, path_type="identify")
    assert envelope == {
        "event_id": "ajs-identify-1",
        "type": "identified",
        "occurred_at": TS,
        "anonymous_id": "anon-1",
        "lead_id": "crm-42",
        "properties": {
            "traits": {"email": "hanako@example.co.jp", "company": "Example KK"},
            "email": "hanako@example.co.jp",
        },
    }
    [(_, event)] = check(validator, envelope).accepted
    assert (event.anonymous_id, event.lead_id) == ("anon-1", "crm-42")


def test_alias_links_previous_id_and_user_id(validator: EventValidator) -> None:
    alias = {"type": "alias", "messageId": "m-1", "timestamp": TS, "previousId": "anon-9", "userId": "crm-42"}
    envelope = map_segment_call(alias, path_type=None)
    assert envelope == {
        "event_id": "m-1",
        "type": "identified",
        "occurred_at": TS,
        "anonymous_id": "anon-9",
        "lead_id": "crm-42",
        "properties": {},
    }
    assert check(validator, envelope).errors == []


def test_group_sets_the_account(validator: EventValidator) -> None:
    group = call("group", userId="crm-42", groupId="acct-7", traits={"name": "Example KK", "employees": 120})
    envelope = map_segment_call(group, path_type="group")
    assert envelope["type"] == "identified"
    assert (envelope["lead_id"], envelope["anonymous_id"], envelope["account_id"]) == ("crm-42", "anon-1", "acct-7")
    assert envelope["properties"] == {"traits": {"name": "Example KK", "employees": 120}}
    [(_, event)] = check(validator, envelope).accepted
    assert event.account_id == "acct-7"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Form Submitted", "form_submitted"),
        ("form_submitted", "form_submitted"),
        ("form-submitted", "form_submitted"),
        ("  Opportunity   Won ", "opportunity_won"),
        ("Feedback Submitted", "feedback_submitted"),
        ("Order Completed", None),
        ("Tracked", None),
        ("FormSubmitted", None),
        (None, None),
        (3, None),
    ],
)
def test_track_names_that_are_types(name: object, expected: str | None) -> None:
    assert track_type(name) == expected


def test_a_title_case_track_becomes_that_type(validator: EventValidator) -> None:
    track = call(
        "track",
        event="Form Submitted",
        properties={"form_id": "demo", "email": "hanako@example.co.jp", "intent": "high"},
    )
    envelope = map_segment_call(track, path_type="track")
    assert envelope["type"] == "form_submitted"
    assert envelope["properties"] == {"form_id": "demo", "email": "hanako@example.co.jp", "intent": "high"}
    assert check(validator, envelope).errors == []


def test_a_track_of_a_type_still_needs_that_types_properties(validator: EventValidator) -> None:
    track = call("track", event="Opportunity Won", userId="crm-42", properties={"opportunity_id": "o-1"})
    assert errors_of(validator, map_segment_call(track, path_type="track")) == [("properties.amount", "is required")]


def test_any_other_track_becomes_tracked_with_its_name(validator: EventValidator) -> None:
    track = call("track", event="Product Viewed", properties={"product_id": "p-1", "name": "Monopoly", "price": 18.99})
    envelope = map_segment_call(track, path_type=None)
    assert envelope["type"] == "tracked"
    assert envelope["properties"] == {
        "product_id": "p-1",
        "property_name": "Monopoly",
        "price": 18.99,
        "name": "Product Viewed",
    }
    assert check(validator, envelope).errors == []


def test_a_track_without_an_event_name_is_refused(validator: EventValidator) -> None:
    assert errors_of(validator, map_segment_call(call("track"), path_type="track")) == [
        ("properties.name", "is required")
    ]


def test_a_call_without_message_id_is_refused_not_given_an_id(validator: EventValidator) -> None:
    track = call("track", event="Signed Up")
    del track["messageId"]
    envelope = map_segment_call(track, path_type=None)
    assert "event_id" not in envelope
    assert errors_of(validator, envelope) == [("event_id", "is required")]


def test_original_timestamp_is_used_when_timestamp_is_absent() -> None:
    rudder = call("track", event="Signed Up", originalTimestamp="2024-05-01T09:30:00+09:00")
    del rudder["timestamp"]
    assert map_segment_call(rudder, path_type=None)["occurred_at"] == "2024-05-01T09:30:00+09:00"
    both = call("track", event="Signed Up", originalTimestamp="2024-04-30T00:00:00Z")
    assert map_segment_call(both, path_type=None)["occurred_at"] == TS


def test_a_call_without_any_timestamp_is_refused(validator: EventValidator) -> None:
    track = call("track", event="Signed Up")
    del track["timestamp"]
    assert errors_of(validator, map_segment_call(track, path_type=None)) == [("occurred_at", "is required")]


def test_numeric_ids_become_strings_and_empty_ids_are_absent() -> None:
    envelope = map_segment_call(call("identify", userId=42, anonymousId="", traits={}), path_type=None)
    assert envelope["lead_id"] == "42" and "anonymous_id" not in envelope


def test_context_group_id_is_the_account_and_the_rest_of_context_is_dropped() -> None:
    track = call(
        "track", event="Signed Up", context={"groupId": "acct-1", "ip": "1.2.3.4", "traits": {"email": "x@y.z"}}
    )
    envelope = map_segment_call(track, path_type=None)
    assert envelope["account_id"] == "acct-1"
    assert "x@y.z" not in repr(envelope) and "1.2.3.4" not in repr(envelope)


def test_the_path_type_wins_over_the_calls_type() -> None:
    assert map_segment_call(call("identify", event="Signed Up"), path_type="track")["type"] == "tracked"


def test_an_unsupported_call_type_is_refused_by_validation(validator: EventValidator) -> None:
    [(field, reason)] = errors_of(validator, map_segment_call(call("record", name="Home"), path_type=None))
    assert field == "type" and reason.startswith("must be one of:")
    no_type = call("track", event="x")
    del no_type["type"]
    assert errors_of(validator, map_segment_call(no_type, path_type=None)) == [("type", "is required")]


def test_null_properties_are_empty_and_non_object_properties_are_refused(validator: EventValidator) -> None:
    assert map_segment_call(call("track", event="Signed Up", properties=None), path_type=None)["properties"] == {
        "name": "Signed Up"
    }
    bad = map_segment_call(call("track", event="Form Submitted", properties="oops"), path_type=None)
    assert errors_of(validator, bad) == [("properties", "must be a JSON object")]


def test_a_batch_maps_each_call_and_keeps_bad_items_at_their_index(validator: EventValidator) -> None:
    body = {"batch": [call("page", properties={"path": "/"}), 7, call("identify", userId="crm-1")], "sentAt": TS}
    items = map_segment_batch(body)
    assert [i["type"] if isinstance(i, dict) else i for i in items] == ["page_viewed", 7, "identified"]
    result = check(validator, *items)
    assert [i for i, _ in result.accepted] == [0, 2]
    assert [(e.index, e.reason) for e in result.errors] == [(1, "must be a JSON object (one event)")]


@pytest.mark.parametrize("body", [[], {"batch": {}}, {"events": []}, None, "batch"])
def test_a_body_that_is_not_a_batch_is_refused_as_a_whole(body: object) -> None:
    with pytest.raises(SegmentBodyError, match='array "batch"'):
        map_segment_batch(body)
