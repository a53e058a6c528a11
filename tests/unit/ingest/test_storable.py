"""What the stores cannot hold is refused at the door: control characters in ids, NUL in properties, UTC
offsets beyond ±15:59, times outside the window, events over the per-event size limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.envelope import encode
from services.common.limits import MAX_FUTURE, MAX_ID_LENGTH, MAX_UTC_OFFSET
from services.ingest.domain.schemas import Validators
from services.ingest.domain.segment import map_segment_call
from services.ingest.domain.storable import MAX_REPORTED, TOO_LARGE
from services.ingest.domain.time_window import EARLIEST, TimeWindow
from services.ingest.domain.timestamps import parse_rfc3339
from services.ingest.domain.validation import EventValidator
from tests.unit.ingest.helpers import RECEIVED_AT, accepted_properties, anonymous, check, errors_of, event

IDS = ("event_id", "lead_id", "anonymous_id", "account_id")
CONTROL = "must not contain control characters (NUL, tab, line breaks, DEL, U+0080 to U+009F)"
OFFSET = "has a UTC offset beyond ±15:59, the widest PostgreSQL stores (e.g. +09:00, -05:00, Z)"
NUL_VALUE = "contains a NUL character (\\u0000), which PostgreSQL cannot store"
NUL_KEY = "has a key containing a NUL character (\\u0000), which PostgreSQL cannot store"


@pytest.mark.parametrize("field", IDS)
@pytest.mark.parametrize("bad", ["\x00", "\x01", "\t", "\n", "\r", "\x1f", "\x7f", "\x80", "\x85", "\x9f"])
def test_an_id_with_a_control_character_is_refused_naming_the_id(
    validator: EventValidator, field: str, bad: str
) -> None:
    for value in (f"id{bad}x", f"{bad}id", f"id{bad}"):  # "id\n": Python's `$` matches before a final newline
        assert errors_of(validator, event(**{field: value})) == [(field, CONTROL)]


@pytest.mark.parametrize("field", IDS)
def test_ids_may_hold_any_other_text_up_to_the_length_limit(validator: EventValidator, field: str) -> None:
    for value in ("id with spaces", "リード-1", "a\u00a0b", "emoji-😀", "a" * MAX_ID_LENGTH, "\u2028"):
        [(_, accepted)] = check(validator, event(**{field: value})).accepted
        assert getattr(accepted, field) == value
    assert errors_of(validator, event(**{field: "a" * (MAX_ID_LENGTH + 1)})) == [
        (field, f"must be at most {MAX_ID_LENGTH} characters long")
    ]


def test_the_schemas_id_bounds_are_the_shared_limit(validators: Validators) -> None:
    properties = validators.envelope.schema["properties"]
    assert {properties[f]["maxLength"] for f in IDS} == {MAX_ID_LENGTH}


def test_a_segment_message_id_with_a_nul_is_refused_as_the_event_id(validator: EventValidator) -> None:
    call = {"type": "track", "event": "Clicked", "messageId": "m\x00", "userId": "u", "timestamp": "2024-05-01T00:00Z"}
    assert ("event_id", CONTROL) in errors_of(validator, map_segment_call(call, path_type=None))


@pytest.mark.parametrize(
    ("properties", "field", "reason"),
    [
        ({"title": "a\x00b"}, "properties.title", NUL_VALUE),
        ({"ti\x00tle": "x"}, "properties", NUL_KEY),
        ({"items": [{"sku": "a"}, {"sku": ["x", "\x00"]}]}, "properties.items[1].sku[1]", NUL_VALUE),
        ({"a": {"b": {"c\x00": None}}}, "properties.a.b", NUL_KEY),
        ({"a": ["\x00"]}, "properties.a[0]", NUL_VALUE),
    ],
)
def test_a_nul_in_properties_is_refused_wherever_it_sits(
    validator: EventValidator, properties: dict[str, Any], field: str, reason: str
) -> None:
    assert errors_of(validator, event("tracked", properties={"name": "n", **properties})) == [(field, reason)]


def test_a_literal_backslash_u0000_is_text_like_any_other(validator: EventValidator) -> None:
    properties = {"name": "n", "note": "\\u0000", "\\u0000": "key"}
    assert accepted_properties(validator, event("tracked", properties=properties)) == properties


def test_every_nul_problem_is_named_up_to_a_bound(validator: EventValidator) -> None:
    two = errors_of(validator, event("tracked", properties={"name": "n", "a": "\x00", "b\x00": 1}))
    assert sorted(two) == [("properties", NUL_KEY), ("properties.a", NUL_VALUE)]
    many = errors_of(validator, event("tracked", properties={"name": "n", "list": ["\x00"] * 1000}))
    assert len(many) == MAX_REPORTED + 1
    assert many[-1] == ("properties", "has more strings or keys containing a NUL character")


def test_nul_problems_come_with_the_other_problems_of_the_item(validator: EventValidator) -> None:
    item = anonymous(title="\x00", email="hanako@example.co.jp")
    item["occurred_at"] = "2024-05-01T09:30:00+16:00"
    fields = {f for f, _ in errors_of(validator, item)}
    assert fields == {"properties.title", "properties.email", "occurred_at"}


@pytest.mark.parametrize("offset", ["+15:59", "-15:59", "Z", "+00:00", "-00:00", "+14:00"])
def test_offsets_up_to_15_59_are_accepted(validator: EventValidator, offset: str) -> None:
    sent = f"2024-05-01T09:30:00{offset}"
    [(_, accepted)] = check(validator, event(occurred_at=sent)).accepted
    assert accepted.occurred_at.utcoffset() == datetime.fromisoformat(sent).utcoffset()


@pytest.mark.parametrize("offset", ["+16:00", "-16:00", "-23:59", "+21:27", "+23:59"])
def test_offsets_postgresql_cannot_store_are_refused(validator: EventValidator, offset: str) -> None:
    assert errors_of(validator, event(occurred_at=f"2024-05-01T09:30:00{offset}")) == [("occurred_at", OFFSET)]


WINDOW = (
    "is outside the accepted window: from 2000-01-01T00:00:00Z to 1 day after the ingest's clock, "
    "currently 2024-07-02T00:00:05Z"
)


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2000-01-01T00:00:00Z",
        "2000-01-01T09:00:00+09:00",
        "2024-07-02T00:00:05Z",  # received_at + 1 day exactly
        "2024-07-02T09:00:05+09:00",
    ],
)
def test_the_window_bounds_are_accepted(validator: EventValidator, occurred_at: str) -> None:
    assert check(validator, event(occurred_at=occurred_at)).errors == []


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+09:00",  # before year 1 in UTC: compared without converting (no OverflowError)
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-05:00",  # past year 9999 in UTC
        "1999-12-31T23:59:59.999999Z",
        "2000-01-01T08:59:59+09:00",
        "2024-07-02T00:00:05.000001Z",
        "1970-01-01T00:00:00Z",
    ],
)
def test_times_outside_the_window_are_refused_naming_it(validator: EventValidator, occurred_at: str) -> None:
    assert errors_of(validator, event(occurred_at=occurred_at)) == [("occurred_at", WINDOW)]


def test_the_window_follows_the_ingest_clock(validator: EventValidator) -> None:
    later = RECEIVED_AT + timedelta(days=365)
    item = event(occurred_at="2025-07-01T12:00:00Z")
    assert validator.validate_batch([item], source="crm", received_at=later).errors == []
    assert check(validator, item).errors  # a year earlier it was in the future


def sized(validator: EventValidator, total: int) -> dict[str, Any]:
    """A tracked event whose encoded record is exactly `total` bytes."""
    item = event("tracked", properties={"name": "n", "blob": ""})
    [(_, accepted)] = check(validator, item).accepted
    item["properties"]["blob"] = "x" * (total - len(encode(accepted)))
    return item


def test_an_event_up_to_the_size_limit_is_accepted_and_one_byte_more_refused(validators: Validators) -> None:
    small = EventValidator(validators, max_event_bytes=8192)
    [(_, accepted)] = check(small, sized(small, 8192)).accepted
    assert len(encode(accepted)) == 8192
    [error] = check(small, sized(small, 8193)).errors
    assert (error.field, error.event_id) == ("", "evt-tracked")
    assert error.reason == (
        f"{TOO_LARGE} 8,193 bytes once encoded, over the limit of 8,192 bytes per event "
        "(STAGETRACK_MAX_EVENT_BYTES); send large data elsewhere and a reference in the event"
    )


def test_size_counts_what_the_ingest_adds_and_normalizes(validators: Validators) -> None:
    small = EventValidator(validators, max_event_bytes=8192)
    item = event("opportunity_won", properties={"opportunity_id": "o", "amount": 1, "pad": "x" * 7800})
    [(_, accepted)] = check(small, item).accepted  # near the limit: measured exactly, and it fits
    assert len(encode(accepted)) <= 8192
    item["properties"]["pad"] += "x" * 150
    assert check(small, item).errors[0].reason.startswith(TOO_LARGE)


def test_a_value_json_cannot_carry_is_refused_not_raised(validator: EventValidator) -> None:
    item = event("tracked", properties={"name": "n", "huge": 2**70})  # only from Python: orjson parses it as float
    assert errors_of(validator, item) == [("properties", "holds a value JSON cannot carry")]


def _reference(value: str, received_at: datetime) -> str | None:
    """The window judged on aware datetimes, as PostgreSQL would: the text-based TimeWindow must agree."""
    occurred_at = parse_rfc3339(value)
    assert occurred_at is not None
    offset = occurred_at.utcoffset()
    assert offset is not None
    if abs(offset) > MAX_UTC_OFFSET:
        return "offset"
    return None if EARLIEST <= occurred_at <= received_at + MAX_FUTURE else "window"


@st.composite
def rfc3339_texts(draw: st.DrawFn) -> tuple[str, datetime]:
    """(text, received_at): times anywhere from year 1 to 9999, and times within seconds of either bound."""
    received_at = draw(
        st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
    )
    offset = timedelta(minutes=draw(st.integers(-(24 * 60 - 1), 24 * 60 - 1)))
    near = draw(st.sampled_from([None, EARLIEST, received_at + MAX_FUTURE]))
    if near is None:
        naive = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    else:
        instant = near + timedelta(microseconds=draw(st.integers(-2_000_000, 2_000_000)))
        naive = (instant.astimezone(UTC) + offset).replace(tzinfo=None)
    fraction = draw(st.sampled_from(["none", "exact", "extra digit", "short"]))
    separator = draw(st.sampled_from(["T", "t", " "]))
    text = f"{naive.year:04d}-{naive.month:02d}-{naive.day:02d}{separator}{naive:%H:%M:%S}"  # %Y: no zero padding
    if fraction == "exact" or (fraction != "none" and naive.microsecond):
        digits = f"{naive.microsecond:06d}"
        text += "." + (digits + "7" if fraction == "extra digit" else digits.rstrip("0") or "0")
    if offset == timedelta(0) and draw(st.booleans()):
        return text + draw(st.sampled_from(["Z", "z"])), received_at
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(abs(offset) // timedelta(minutes=1), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}", received_at


@settings(max_examples=400)
@given(case=rfc3339_texts())
def test_the_text_window_judges_as_aware_datetimes_do(case: tuple[str, datetime]) -> None:
    text, received_at = case
    found = TimeWindow(received_at).problem(text)
    expected = _reference(text, received_at)
    assert (found is None, found is not None and "offset" in found) == (expected is None, expected == "offset"), text
