"""The personal-data guard by value: emails in every spelling it undoes, phone numbers, in linear time."""

from __future__ import annotations

import time

import pytest

from services.ingest.domain.personal_values import PHONE_CHECKS_PER_EVENT
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import RECEIVED_AT, accepted_properties, anonymous, errors_of, event

EMAIL = "personal data (an email address) is not accepted on anonymous tracking events"
PHONE = "personal data (a phone number) is not accepted on anonymous tracking events"


def refused(validator: EventValidator, item: dict[str, object]) -> list[tuple[str, str]]:
    return [(field, reason.split(" (no lead_id)")[0]) for field, reason in errors_of(validator, item)]


def test_a_phone_number_beside_a_name_in_a_title_is_refused_naming_the_field(validator: EventValidator) -> None:
    item = anonymous("page_viewed", title="Hanako Yamada", contact="+81 90-1234-5678")
    assert refused(validator, item) == [("properties.contact", PHONE)]


@pytest.mark.parametrize(
    "value",
    [
        "hanako＠example.co.jp",
        "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ",
        "hanako&#64;example.co.jp",
        "hanako&commat;example.co.jp",
        "hanako&#x40;example.co.jp",
        "hanako&amp;#64;example.co.jp",
        "hanako%2540example.co.jp",
        "hanako\\u0040example.co.jp",
        "hanako[at]example[dot]com",
        "hanako アットマーク example.co.jp",
        "ハナコ@例え.jp",
    ],
)
def test_an_email_in_another_spelling_is_refused(validator: EventValidator, value: str) -> None:
    assert refused(validator, anonymous("page_viewed", title=value)) == [("properties.title", EMAIL)]


@pytest.mark.parametrize(
    "value",
    [
        "+81 90-1234-5678",
        "+1 (415) 555-0100",
        "0081 90 1234 5678",
        "090-1234-5678",
        "03-1234-5678",
        "0120-123-456",
        "０９０－１２３４－５６７８",
        "090ー1234ー5678",
        "https://example.jp/contact?tel=09012345678",
        "TEL03-1234-5678",
        "代表 03-1234-5678 / 携帯 090-1234-5678",
    ],
)
def test_a_phone_number_in_international_or_japanese_format_is_refused(validator: EventValidator, value: str) -> None:
    assert refused(validator, anonymous("page_viewed", note=value)) == [("properties.note", PHONE)]


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T09:30:00+09:00",
        "1714523400000",
        "ISBN 0-306-40615-2",
        "INV-0001234567",
        "35.0123456789",
        "https://example.jp/?gclid=Cj0KCQjw0ruyBhDuARIsANSZ3wp_0123456789_abc",
        "0a1b2c3d4e5f0123456789abcdef0123",
        "00000000-0000-0000-0000-000000000000",
        "Uptime 99.95% (30 days)",
        "Q&A / R&D",
        "価格：１２，０００円（税込）",
        "(415) 555-2671",  # a national number of another country: only read with its country code
    ],
)
def test_ordinary_values_with_digits_and_symbols_pass(validator: EventValidator, value: str) -> None:
    accepted_properties(validator, anonymous("page_viewed", note=value))


def test_a_phone_number_or_email_as_anonymous_id_or_as_a_key_is_refused(validator: EventValidator) -> None:
    assert refused(validator, event("page_viewed", lead_id=..., anonymous_id="+819012345678")) == [
        ("anonymous_id", PHONE)
    ]
    assert refused(validator, event("page_viewed", lead_id=..., anonymous_id="hanako&#64;example.co.jp")) == [
        ("anonymous_id", EMAIL)
    ]
    item = anonymous("tracked", name="Search", counts={"090-1234-5678": 1, "hanako%40example.co.jp": 2})
    assert refused(validator, item) == [
        ("properties.counts.090-1234-5678", PHONE),
        ("properties.counts.hanako%40example.co.jp", EMAIL),
    ]


def test_phone_numbers_are_checked_for_a_bounded_number_of_values_per_event(validator: EventValidator) -> None:
    shaped = {f"code_{i}": "0000000000" for i in range(PHONE_CHECKS_PER_EVENT)}  # shaped, never a valid number
    accepted_properties(validator, anonymous("tracked", name="Codes", **shaped))
    errors = errors_of(validator, anonymous("tracked", name="Codes", **shaped, one_more="0000000000"))
    assert [field for field, _ in errors] == ["properties.one_more"]
    assert f"past the {PHONE_CHECKS_PER_EVENT} such values checked per anonymous tracking event" in errors[0][1]


@pytest.mark.parametrize(
    "value",
    [
        "a." * 100_000 + "@x",  # one "@" after a long local-part-shaped run
        "a@" * 100_000,  # many "@"s, none followed by a domain
        "0 " * 100_000,  # a long run of phone-number separators and digits
        "&#6" * 100_000,
        "%25" * 50_000 + "40",
    ],
    ids=["long-local-part", "many-ats", "digit-run", "unfinished-references", "deep-percent"],
)
def test_a_long_hostile_value_is_searched_in_linear_time(validator: EventValidator, value: str) -> None:
    started = time.perf_counter()
    validator.validate_batch([anonymous("page_viewed", title=value)], source="web", received_at=RECEIVED_AT)
    assert time.perf_counter() - started < 2.0  # a quadratic search takes minutes on these 200 KB
