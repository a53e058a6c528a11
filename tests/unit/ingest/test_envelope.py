"""The envelope: ids, type, occurred_at; each item judged on its own; every problem reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.envelope import EnvelopeError, Event, decode, encode
from services.ingest.domain.validation import EventValidator, ItemError
from tests.unit.ingest.helpers import RECEIVED_AT, check, errors_of, event

PRIVACY_FIELDS = ("email_hash", "sealed")
NO_OFFSET = (
    "has no UTC offset: send an RFC 3339 timestamp with one, e.g. 2024-05-01T09:30:00+09:00 or 2024-05-01T00:30:00Z"
)


def test_an_accepted_event_is_stamped_and_its_time_parsed(validator: EventValidator) -> None:
    item = event("lead_accepted", account_id="acct-9", properties={"owner": "sato", "custom": 1})
    result = check(validator, item)
    assert result.errors == []
    [(index, accepted)] = result.accepted
    assert index == 0
    assert accepted == Event(
        event_id="evt-lead_accepted",
        type="lead_accepted",
        occurred_at=datetime(2024, 5, 1, 0, 30, tzinfo=UTC),
        source="crm",
        received_at=RECEIVED_AT,
        lead_id="lead-1",
        account_id="acct-9",
        properties={"owner": "sato", "custom": 1},
    )
    assert accepted.occurred_at.utcoffset() == timedelta(hours=9)
    assert decode(encode(accepted)) == accepted  # what the engine reads back


def test_properties_are_copied_not_shared(validator: EventValidator) -> None:
    item = event("lead_accepted")
    [(_, accepted)] = check(validator, item).accepted
    item["properties"]["owner"] = "changed later"
    assert accepted.properties["owner"] == "sato"


def test_missing_properties_mean_an_empty_object(validator: EventValidator) -> None:
    [(_, accepted)] = check(validator, event("onboarding_completed", properties=...)).accepted
    assert accepted.properties == {}


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T09:30:00Z",
        "2024-05-01t09:30:00z",
        "2024-05-01T09:30:00.123456789-05:00",
        "2024-05-01 09:30:00+09:00",
    ],
)
def test_rfc3339_timestamps_with_an_offset_are_accepted(validator: EventValidator, value: str) -> None:
    [(_, accepted)] = check(validator, event(occurred_at=value)).accepted
    assert accepted.occurred_at.tzinfo is not None


@pytest.mark.parametrize("value", ["2024-05-01T09:30:00", "2024-05-01T09:30:00.5", "2024-05-01 09:30:00"])
def test_a_naive_timestamp_is_refused_saying_the_offset_is_missing(validator: EventValidator, value: str) -> None:
    [(field, reason)] = errors_of(validator, event(occurred_at=value))
    assert field == "occurred_at"
    assert reason.startswith("has no UTC offset")


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T09:30:00+25:00",
        "1714552200",
    ],
)
def test_a_malformed_timestamp_is_refused(validator: EventValidator, value: str) -> None:
    [(field, reason)] = errors_of(validator, event(occurred_at=value))
    assert (field, reason[:31]) == ("occurred_at", "must be an RFC 3339 timestamp w")


def test_a_numeric_timestamp_is_refused(validator: EventValidator) -> None:
    assert errors_of(validator, event(occurred_at=1714552200)) == [("occurred_at", "must be a string")]


def test_an_unknown_type_is_refused_listing_the_types(validator: EventValidator) -> None:
    [(field, reason)] = errors_of(validator, event("deal_closed"))
    assert field == "type"
    assert reason.startswith("must be one of: page_viewed, screen_viewed, content_downloaded,")
    assert "feedback_submitted" in reason


@pytest.mark.parametrize("kind", [{}, ["page_viewed"], 7, None])
@pytest.mark.parametrize("lead_id", ["lead-1", ...])
def test_a_type_that_is_not_a_string_is_refused_not_a_crash(
    validator: EventValidator, kind: object, lead_id: object
) -> None:
    """Found by schemathesis: {"type": {}} on an anonymous event made the personal-data guard raise (a 500)."""
    item = event(type=kind, lead_id=lead_id, anonymous_id="anon-1")
    [(field, reason)] = errors_of(validator, item)
    assert field == "type" and reason.startswith("must be one of:")


@pytest.mark.parametrize("field", ["event_id", "type", "occurred_at"])
def test_a_missing_envelope_field_is_named(validator: EventValidator, field: str) -> None:
    assert (field, "is required") in errors_of(validator, event(**{field: ...}))


def test_an_event_needs_an_anonymous_id_or_a_lead_id(validator: EventValidator) -> None:
    assert errors_of(validator, event(lead_id=...)) == [
        ("lead_id", "anonymous_id or lead_id is required (at least one of them)")
    ]
    assert errors_of(validator, event(lead_id=None, anonymous_id=None)) == [
        ("lead_id", "anonymous_id or lead_id is required (at least one of them)")
    ]
    [(_, both)] = check(validator, event(anonymous_id="anon-1")).accepted
    assert (both.anonymous_id, both.lead_id) == ("anon-1", "lead-1")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"event_id": 42}, ("event_id", "must be a string")),
        ({"event_id": ""}, ("event_id", "must not be empty")),
        ({"event_id": "x" * 129}, ("event_id", "must be at most 128 characters long")),
        ({"lead_id": ["lead-1"]}, ("lead_id", "must be a string or null")),
        ({"anonymous_id": "a" * 129}, ("anonymous_id", "must be at most 128 characters long")),
        ({"account_id": 7}, ("account_id", "must be a string or null")),
        ({"properties": ["path", "/"]}, ("properties", "must be a JSON object")),
        ({"properties": None}, ("properties", "must be a JSON object")),
        ({"type": 3}, ("type", None)),
    ],
)
def test_malformed_envelope_fields_are_named_with_a_plain_reason(
    validator: EventValidator, overrides: dict[str, object], expected: tuple[str, str | None]
) -> None:
    errors = errors_of(validator, event("lead_accepted", **overrides))
    field, reason = expected
    assert [f for f, _ in errors] == [field]
    if reason is not None:
        assert errors[0][1] == reason


def test_an_unknown_envelope_field_is_refused_pointing_at_properties(validator: EventValidator) -> None:
    assert errors_of(validator, event(email="x")) == [
        ("email", "is not an envelope field (custom data goes under properties)")
    ]


def test_every_problem_of_an_item_is_reported_not_just_the_first(validator: EventValidator) -> None:
    item = {
        "type": "feedback_submitted",
        "occurred_at": "2024-05-01T09:30:00",
        "lead_id": "",
        "properties": {"rating": 9},
    }
    assert errors_of(validator, item) == [
        ("event_id", "is required"),
        ("lead_id", "must not be empty"),
        ("occurred_at", NO_OFFSET),
        ("properties.about", "is required"),
        ("properties.from_division", "is required"),
        ("properties.rating", "must be at most 5"),
        ("properties.to_division", "is required"),
    ]


def test_one_bad_item_never_stops_the_others(validator: EventValidator) -> None:
    items = [event(event_id="a"), "not an event", event(event_id="c", type="nope"), event(event_id="d"), None]
    result = check(validator, *items)
    assert [(i, e.event_id) for i, e in result.accepted] == [(0, "a"), (3, "d")]
    assert [e.as_dict() for e in result.errors] == [
        {"index": 1, "event_id": None, "field": "", "reason": "must be a JSON object (one event)"},
        {"index": 2, "event_id": "c", "field": "type", "reason": result.errors[1].reason},
        {"index": 4, "event_id": None, "field": "", "reason": "must be a JSON object (one event)"},
    ]


def test_an_error_names_the_event_id_only_when_it_is_a_string(validator: EventValidator) -> None:
    [error] = check(validator, event(event_id=5)).errors
    assert error == ItemError(index=0, event_id=None, field="event_id", reason="must be a string")


def test_duplicate_event_ids_are_accepted_silently(validator: EventValidator) -> None:
    """Same id = same event (a retry); the engine stores it once, the ingest never refuses a retry."""
    result = check(validator, event(event_id="same"), event(event_id="same"))
    assert result.errors == [] and [i for i, _ in result.accepted] == [0, 1]


def test_an_empty_batch_is_an_empty_result(validator: EventValidator) -> None:
    result = check(validator)
    assert result.accepted == [] and result.errors == []


def test_received_at_must_be_aware(validator: EventValidator) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validator.validate_batch([event()], source="crm", received_at=datetime(2024, 5, 1))


@pytest.mark.parametrize("lead_id", ["lead-1", ...])
def test_deeply_nested_properties_are_refused_without_crashing(validator: EventValidator, lead_id: object) -> None:
    def nest(depth: int) -> dict[str, object]:
        nested: dict[str, object] = {"leaf": 1}
        for _ in range(depth - 1):
            nested = {"x": nested}
        return nested

    too_deep = event("tracked", lead_id=lead_id, anonymous_id="anon-1", properties={"name": "Deep", **nest(5000)})
    fits = event("tracked", event_id="fits", properties={"name": "Deep", **nest(32)})
    result = check(validator, too_deep, fits)
    assert [(e.index, e.field, e.reason) for e in result.errors] == [
        (0, "properties", "is nested more than 32 levels deep")
    ]
    assert [i for i, _ in result.accepted] == [1]
    encode(result.accepted[0][1])  # what was accepted can be published


def test_reasons_never_repeat_the_value(validator: EventValidator) -> None:
    secret = "hanako@example.co.jp"
    item = event(
        "form_submitted", occurred_at=secret, properties={"form_id": secret, "email": "not-an-email " + secret}
    )
    item["event_id"] = secret * 10
    for _, reason in errors_of(validator, item):
        assert "hanako" not in reason


def test_received_at_keeps_its_zone(validator: EventValidator) -> None:
    jst = datetime(2024, 5, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    [(_, accepted)] = validator.validate_batch([event()], source="tracker", received_at=jst).accepted
    assert accepted.received_at == jst and accepted.source == "tracker"


def test_the_engine_reads_envelopes_its_strict_decoder_refuses_the_same_lenient_way() -> None:
    """The fast decoder takes what the ingest writes; anything else goes the lenient way (numbers as ids are
    read as text, a null properties as none) or is refused with the field named."""
    lenient = decode(
        b'{"event_id": 7, "type": "page_viewed", "occurred_at": "2024-05-01T09:30:00+09:00", "source": "web",'
        b' "received_at": "2024-05-01T00:30:01+00:00", "anonymous_id": "a1", "properties": null}'
    )
    assert (lenient.event_id, lenient.properties) == ("7", {})
    with pytest.raises(EnvelopeError, match="not a stagetrack event envelope: 'occurred_at'"):
        decode(b'{"event_id": "e", "type": "page_viewed", "source": "web", "anonymous_id": "a1"}')
    with pytest.raises(EnvelopeError, match="event e: unknown type 'page_seen'"):
        decode(
            b'{"event_id": "e", "type": "page_seen", "occurred_at": "2024-05-01T09:30:00Z", "source": "web",'
            b' "received_at": "2024-05-01T00:30:01Z", "anonymous_id": "a1"}'
        )
    with pytest.raises(EnvelopeError, match="event e: occurred_at has no UTC offset"):
        decode(
            b'{"event_id": "e", "type": "page_viewed", "occurred_at": "2024-05-01T09:30:00", "source": "web",'
            b' "received_at": "2024-05-01T00:30:01Z", "anonymous_id": "a1"}'
        )


@given(
    st.builds(
        Event,
        event_id=st.text(min_size=1, max_size=20),
        type=st.sampled_from(["page_viewed", "opportunity_won"]),
        occurred_at=st.datetimes(timezones=st.timezones()),
        source=st.text(max_size=10),
        received_at=st.datetimes(timezones=st.just(UTC)),
        anonymous_id=st.none() | st.text(max_size=10),
        lead_id=st.none() | st.text(max_size=10),
        account_id=st.none() | st.text(max_size=10),
        properties=st.dictionaries(
            st.text(max_size=5), st.text(max_size=5) | st.integers(-(2**63), 2**63 - 1), max_size=4
        ),
        email_hash=st.none() | st.text(max_size=64),
        sealed=st.none() | st.fixed_dictionaries({"key": st.text(max_size=5), "box": st.text(max_size=10)}),
    )
)
def test_encode_writes_every_field_in_order_as_orjson_writes_it(event: Event) -> None:
    # the privacy fields are written only when set (an unidentified event's record is unchanged by them)
    fields = {name: getattr(event, name) for name in event.__struct_fields__}
    written = {name: value for name, value in fields.items() if value is not None or name not in PRIVACY_FIELDS}
    assert encode(event) == orjson.dumps(written)


def test_the_privacy_fields_round_trip() -> None:
    event = Event(
        event_id="e1",
        type="form_submitted",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        source="s",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        anonymous_id="a1",
        properties={"form_id": "f"},
        email_hash="ab" * 32,
        sealed={"key": "k1", "fields": [["email"]], "box": "xyz"},
    )
    assert decode(encode(event)) == event
