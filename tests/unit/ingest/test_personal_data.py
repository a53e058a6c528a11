"""The personal-data guard: anonymous tracking events carry no email, phone or name."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.domain.personal_values import contains_email
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import accepted_properties, anonymous, errors_of, event

EMAIL = "personal data (an email address) is not accepted on anonymous tracking events"
PHONE = "personal data (a phone number) is not accepted on anonymous tracking events"
NAME = "personal data (a name) is not accepted on anonymous tracking events"


def refused(validator: EventValidator, item: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason prefix) of each error."""
    return [(field, reason.split(" (no lead_id)")[0]) for field, reason in errors_of(validator, item)]


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("email", "hanako@example.co.jp", EMAIL),
        ("Email", "hanako@example.co.jp", EMAIL),
        ("E-Mail", "someone", EMAIL),
        ("e_mail", "someone", EMAIL),
        ("emailAddress", "someone", EMAIL),
        ("mail", "someone", EMAIL),
        ("phone", "+81 3-1234-5678", PHONE),
        ("Tel", "03-1234-5678", PHONE),
        ("mobile", "090-1234-5678", PHONE),
        ("phone_number", "0312345678", PHONE),
        ("name", "Yamada Hanako", NAME),
        ("first_name", "Hanako", NAME),
        ("lastName", "Yamada", NAME),
        ("FULL_NAME", "Yamada Hanako", NAME),
        ("firstname", "Hanako", NAME),
        ("lastname", "Yamada", NAME),
    ],
)
def test_a_personal_key_on_a_page_view_is_refused(validator: EventValidator, key: str, value: str, kind: str) -> None:
    assert refused(validator, anonymous("page_viewed", **{key: value})) == [(f"properties.{key}", kind)]


def test_personal_keys_are_found_nested_in_objects_and_arrays(validator: EventValidator) -> None:
    item = anonymous("content_downloaded", form={"visitor": {"Phone": "03-1234-5678"}}, people=[{"last_name": "Sato"}])
    assert refused(validator, item) == [
        ("properties.form.visitor.Phone", PHONE),
        ("properties.people[0].last_name", NAME),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("referrer", "https://mail.example.com/?from=hanako@example.co.jp"),
        ("referrer", "https://app.example.com/unsubscribe?email=hanako%40example.co.jp&utm_source=x"),
        ("referrer", "https://r.example.com/?next=https%3A%2F%2Fx.com%2F%3Fu%3Dhanako%2540example.co.jp"),
        ("url", "https://example.com/pricing?e=hanako%40example.co.jp"),
        ("title", "Welcome back, hanako@example.co.jp"),
        ("path", "/users/hanako@example.co.jp/settings"),
    ],
)
def test_an_email_anywhere_in_a_page_view_is_refused_also_url_encoded(
    validator: EventValidator, field: str, value: str
) -> None:
    assert refused(validator, anonymous("page_viewed", **{field: value})) == [(f"properties.{field}", EMAIL)]


def test_an_email_nested_in_a_list_or_used_as_a_key_is_refused(validator: EventValidator) -> None:
    item = anonymous("tracked", name="Search", queries=["crm", {"q": "hanako@example.co.jp"}], tags={"a@b.io": 1})
    assert refused(validator, item) == [("properties.queries[1].q", EMAIL), ("properties.tags.a@b.io", EMAIL)]


def test_every_offending_field_is_reported(validator: EventValidator) -> None:
    item = anonymous("page_viewed", email="a@b.co", phone="1", referrer="?u=c%40d.co")
    assert [f for f, _ in refused(validator, item)] == ["properties.email", "properties.phone", "properties.referrer"]


def test_an_email_shaped_anonymous_id_is_refused(validator: EventValidator) -> None:
    item = event("page_viewed", lead_id=..., anonymous_id="hanako@example.co.jp")
    assert refused(validator, item) == [("anonymous_id", EMAIL)]


def test_the_reason_tells_how_to_send_personal_data(validator: EventValidator) -> None:
    [(_, reason)] = errors_of(validator, anonymous("page_viewed", email="a@b.co"))
    assert reason == (
        "personal data (an email address) is not accepted on anonymous tracking events (no lead_id); "
        "identify the visitor with form_submitted or identified first"
    )
    assert "a@b.co" not in reason


def test_the_same_data_is_accepted_once_the_lead_is_known(validator: EventValidator) -> None:
    props = {"path": "/pricing", "email": "hanako@example.co.jp", "referrer": "?e=hanako%40example.co.jp"}
    assert accepted_properties(validator, event("page_viewed", properties=props)) == props


@pytest.mark.parametrize("event_type", ["form_submitted", "identified"])
def test_identification_events_may_carry_personal_data_without_a_lead_id(
    validator: EventValidator, event_type: str
) -> None:
    item = anonymous(event_type, first_name="Hanako", phone="03-1234-5678", traits={"name": "Yamada Hanako"})
    assert accepted_properties(validator, item)["first_name"] == "Hanako"


def test_a_tracked_events_own_name_is_not_a_persons_name(validator: EventValidator) -> None:
    accepted_properties(validator, anonymous("tracked", name="Video Played"))
    assert refused(validator, anonymous("tracked", name="Video Played", viewer={"name": "Hanako"})) == [
        ("properties.viewer.name", NAME)
    ]
    assert refused(validator, anonymous("tracked", name="hanako@example.co.jp")) == [("properties.name", EMAIL)]


@pytest.mark.parametrize("value", [None, "", {}, []])
def test_an_empty_personal_field_carries_nothing_and_is_accepted(validator: EventValidator, value: object) -> None:
    accepted_properties(validator, anonymous("page_viewed", email=value))


@pytest.mark.parametrize(
    "value",
    [
        "/pricing",
        "https://example.com/a?b=c&d=%20e",
        "@handle",
        "twitter.com/@yamada",
        "user@localhost",
        "100%",
        "%E3%81%82",
    ],
)
def test_things_that_are_not_emails_pass(value: str) -> None:
    assert not contains_email(value)


def test_the_guard_also_reports_on_an_item_that_broke_the_schema(validator: EventValidator) -> None:
    item = anonymous("page_viewed", email="a@b.co")
    del item["properties"]["path"]
    assert [f for f, _ in errors_of(validator, item)] == ["properties.path", "properties.email"]
