"""Per-type properties: the required fields of PRODUCT.md's table, enums, ranges and types."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import REQUIRED_PROPERTIES, VALID_PROPERTIES, accepted_properties, errors_of, event

MISSING = [(t, f) for t, fields in REQUIRED_PROPERTIES.items() for f in fields]


@pytest.mark.parametrize(("event_type", "field"), MISSING, ids=[f"{t}-{f}" for t, f in MISSING])
def test_each_required_property_is_named_when_missing(validator: EventValidator, event_type: str, field: str) -> None:
    props = {k: v for k, v in VALID_PROPERTIES[event_type].items() if k != field}
    assert errors_of(validator, event(event_type, properties=props)) == [(f"properties.{field}", "is required")]


@pytest.mark.parametrize("event_type", sorted(VALID_PROPERTIES))
def test_the_valid_properties_of_each_type_are_accepted(validator: EventValidator, event_type: str) -> None:
    accepted_properties(validator, event(event_type))


def test_all_missing_properties_are_reported_at_once(validator: EventValidator) -> None:
    assert errors_of(validator, event("opportunity_lost", properties={})) == [
        ("properties.opportunity_id", "is required"),
        ("properties.reason", "is required"),
    ]


DIVISIONS = "must be one of: marketing, inside_sales, field_sales, customer_success"

BAD = [
    ("form_submitted", "intent", "urgent", "must be one of: normal, high"),
    ("form_submitted", "email", "hanako at example", "must be an email address"),
    ("form_submitted", "form_id", "", "must not be empty"),
    ("feedback_submitted", "about", "deal", "must be one of: meeting, lead, campaign"),
    ("feedback_submitted", "from_division", "sales", DIVISIONS),
    ("feedback_submitted", "to_division", "Marketing", DIVISIONS),
    ("feedback_submitted", "rating", 0, "must be at least 1"),
    ("feedback_submitted", "rating", 6, "must be at most 5"),
    ("feedback_submitted", "rating", 3.5, "must be a whole number"),
    ("feedback_submitted", "rating", "4", "must be a whole number"),
    ("feedback_submitted", "rating", True, "must be a whole number"),
    ("feedback_submitted", "met_expectations", "yes", "must be true or false"),
    ("health_reported", "score", -1, "must be at least 0"),
    ("health_reported", "score", 100.5, "must be at most 100"),
    ("health_reported", "score", "80", "must be a number"),
    ("page_viewed", "path", "pricing", "must be a URL path starting with / (e.g. /pricing)"),
    ("page_viewed", "path", 7, "must be a string"),
    ("page_viewed", "referrer", None, "must be a string"),
    ("meeting_scheduled", "scheduled_for", "2024-05-20 14:00", "must be an RFC 3339 timestamp with a UTC offset"),
    ("meeting_scheduled", "scheduled_for", "2024-05-20T14:00:00", "has no UTC offset"),
    ("tracked", "name", "", "must not be empty"),
    ("identified", "traits", ["a"], "must be a JSON object"),
    ("opportunity_won", "amount", -1, "must be at least 0"),
    ("opportunity_won", "amount", "-1", 'must be a non-negative decimal: a JSON number or a string like "1200.50"'),
    ("opportunity_won", "amount", "1,200", 'must be a non-negative decimal: a JSON number or a string like "1200.50"'),
    ("opportunity_won", "amount", "1e6", 'must be a non-negative decimal: a JSON number or a string like "1200.50"'),
    ("opportunity_won", "amount", True, "must be a number or a string"),
    ("opportunity_won", "amount", None, "must be a number or a string"),
    ("renewal_won", "currency", "YEN!", "must be a three-letter ISO 4217 currency code such as JPY"),
    ("opportunity_lost", "reason", "", "must not be empty"),
]


@pytest.mark.parametrize(("event_type", "field", "value", "reason"), BAD, ids=[f"{t}-{f}-{v!r}" for t, f, v, _ in BAD])
def test_a_bad_property_value_is_refused_with_a_plain_reason(
    validator: EventValidator, event_type: str, field: str, value: Any, reason: str
) -> None:
    props = {**VALID_PROPERTIES[event_type], field: value}
    [(got_field, got_reason)] = errors_of(validator, event(event_type, properties=props))
    assert got_field == f"properties.{field}"
    assert got_reason.startswith(reason)


GOOD = [
    ("form_submitted", "intent", "normal"),
    ("feedback_submitted", "rating", 1),
    ("feedback_submitted", "rating", 5),
    ("feedback_submitted", "rating", 5.0),
    ("health_reported", "score", 0),
    ("health_reported", "score", 100),
    ("health_reported", "score", 55.5),
    ("page_viewed", "path", "/"),
    ("opportunity_won", "amount", 0),
    ("opportunity_won", "amount", "0"),
]


@pytest.mark.parametrize(("event_type", "field", "value"), GOOD, ids=[f"{t}-{f}-{v!r}" for t, f, v in GOOD])
def test_boundary_values_are_accepted(validator: EventValidator, event_type: str, field: str, value: Any) -> None:
    accepted_properties(validator, event(event_type, properties={**VALID_PROPERTIES[event_type], field: value}))


def test_onboarding_completed_needs_no_properties(validator: EventValidator) -> None:
    assert accepted_properties(validator, event("onboarding_completed", properties={})) == {}
