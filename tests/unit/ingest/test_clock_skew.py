"""Segment's clock-skew correction: occurred_at = received_at − (sentAt − timestamp), for client-side libraries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.ingest.domain.clock_skew import corrected, is_client_side
from services.ingest.domain.segment import map_segment_call

RECEIVED = datetime(2024, 7, 1, 12, 0, 0, tzinfo=UTC)


def test_a_clock_an_hour_ahead_is_corrected_to_the_servers_time() -> None:
    # the device thinks it is 13:00:00; the call happened 2 s before it was sent
    assert corrected("2024-07-01T12:59:58Z", "2024-07-01T13:00:00Z", RECEIVED) == "2024-07-01T11:59:58+00:00"


def test_offsets_and_fractions_are_read() -> None:
    got = corrected("2024-07-01T21:59:59.500+09:00", "2024-07-01T13:00:00.000Z", RECEIVED)
    assert got == (RECEIVED - timedelta(milliseconds=500)).isoformat()


def test_a_stamp_after_the_send_counts_as_no_delay() -> None:
    assert corrected("2024-07-01T13:00:01Z", "2024-07-01T13:00:00Z", RECEIVED) == RECEIVED.isoformat()


@pytest.mark.parametrize(
    ("stamp", "sent"),
    [
        ("2024-07-01T12:00:00", "2024-07-01T12:00:01Z"),
        ("2024-07-01T12:00:00Z", None),
        (5, "x"),
        ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"),
    ],
)
def test_without_two_readable_stamps_the_calls_own_stands(stamp: object, sent: object) -> None:
    assert corrected(stamp, sent, RECEIVED) is None


@pytest.mark.parametrize(
    ("name", "client_side"),
    [
        ("analytics.js", True),
        ("Analytics.JS", True),
        ("analytics-ios", True),
        ("analytics-kotlin", True),
        ("RudderLabs JavaScript SDK", True),
        ("analytics-python", False),
        ("analytics-node", False),
        (None, False),
    ],
)
def test_client_side_libraries_are_named_by_context_library_name(name: object, client_side: bool) -> None:
    assert is_client_side({"library": {"name": name}}) is client_side


def _call(library: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Clicked",
        "messageId": "m-1",
        "anonymousId": "a-1",
        "timestamp": "2024-07-01T12:59:58.000Z",
        "context": {"library": {"name": library}},
        **fields,
    }


def test_the_mapping_corrects_a_browsers_call_by_its_own_sent_at() -> None:
    envelope = map_segment_call(
        _call("analytics.js", sentAt="2024-07-01T13:00:00.000Z"), path_type="track", received_at=RECEIVED
    )
    assert envelope["occurred_at"] == "2024-07-01T11:59:58+00:00"


def test_the_mapping_corrects_a_batched_call_by_the_batchs_sent_at() -> None:
    envelope = map_segment_call(
        _call("analytics.js"), path_type=None, received_at=RECEIVED, sent_at="2024-07-01T13:00:00Z"
    )
    assert envelope["occurred_at"] == "2024-07-01T11:59:58+00:00"


def test_the_mapping_keeps_a_server_sdks_timestamp() -> None:
    call = _call("analytics-python", sentAt="2024-07-01T13:00:00Z")
    envelope = map_segment_call(call, path_type="track", received_at=RECEIVED)
    assert envelope["occurred_at"] == "2024-07-01T12:59:58.000Z"


def test_the_mapping_without_a_receipt_time_corrects_nothing() -> None:
    envelope = map_segment_call(_call("analytics.js", sentAt="2024-07-01T13:00:00Z"), path_type="track")
    assert envelope["occurred_at"] == "2024-07-01T12:59:58.000Z"
