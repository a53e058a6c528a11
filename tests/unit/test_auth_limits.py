"""The failed-authentication limiter: thresholds, windows, blocks, eviction, key handling (clock injected)."""

from __future__ import annotations

import base64
import logging

import pytest

from services.common.auth_limits import AuthLimiter, FailureTable, key_digest, key_prefix, presented_key
from services.common.auth_report import AuthReport


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(
    clock: Clock, *, limit: int = 3, window: float = 10.0, block: float = 60.0, capacity: int = 100
) -> AuthLimiter:
    return AuthLimiter(limit=limit, window_seconds=window, block_seconds=block, capacity=capacity, clock=clock)


def test_an_address_is_blocked_at_the_threshold_not_before() -> None:
    clock = Clock()
    limits = limiter(clock)
    assert limits.failed("203.0.113.7", None) == []
    assert limits.failed("203.0.113.7", None) == []
    assert limits.block("203.0.113.7", None) is None
    assert limits.failed("203.0.113.7", None) == ["address"]
    block = limits.block("203.0.113.7", None)
    assert block is not None and block.by == "address" and block.retry_after_seconds == 60.0
    assert limits.block("198.51.100.2", None) is None  # another address is unaffected


def test_failures_spread_wider_than_the_window_never_block() -> None:
    clock = Clock()
    limits = limiter(clock)
    for _ in range(10):
        limits.failed("203.0.113.7", None)
        limits.failed("203.0.113.7", None)
        clock.now += 10.0  # the window (counted from its first failure) ends before a third failure
    assert limits.block("203.0.113.7", None) is None


def test_a_block_ends_after_its_time_and_refusals_during_it_do_not_extend_it() -> None:
    clock = Clock()
    limits = limiter(clock, limit=2, block=30.0)
    limits.failed("a", None)
    limits.failed("a", None)
    clock.now += 29.0
    block = limits.block("a", None)
    assert block is not None and block.retry_after_seconds == pytest.approx(1.0)
    assert limits.failed("a", None) == []  # an answer that was in flight when the block began
    clock.now += 1.0
    assert limits.block("a", None) is None
    assert limits.idle  # the expired record was forgotten


def test_a_key_is_blocked_whatever_the_address_and_only_that_key() -> None:
    clock = Clock()
    limits = limiter(clock)
    revoked = key_digest("stk_revoked-key-used-by-a-fleet")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        blocked = limits.failed(address, revoked)
    assert blocked == ["key"]
    block = limits.block("10.0.0.99", revoked)
    assert block is not None and block.by == "key"
    assert limits.block("10.0.0.99", key_digest("stk_revoked-key-used-by-a-fleeX")) is None
    assert limits.block("10.0.0.99", None) is None


def test_made_up_keys_sharing_a_public_keys_prefix_do_not_lock_that_key_out() -> None:
    clock = Clock()
    limits = limiter(clock)
    public = "stk_PublicTrackerKeyInEveryPage0000000000000"
    for n in range(10):
        limits.failed(f"10.1.0.{n}", key_digest(public[:12] + f"guess{n}"))
    assert limits.block("192.0.2.1", key_digest(public)) is None


def test_the_tables_keep_at_most_capacity_entries_forgetting_the_least_recent_first() -> None:
    table = FailureTable(limit=2, window_seconds=10.0, block_seconds=60.0, capacity=3)
    table.failed("a", 0.0)
    table.failed("b", 1.0)
    table.failed("c", 2.0)
    table.failed("a", 3.0)  # a failed again: b is now the least recent
    assert table.blocked_for("a", 3.0) is not None
    table.failed("d", 4.0)
    assert len(table) == 3
    table.failed("b", 5.0)  # b was forgotten: this is its first failure again, not its second
    assert table.blocked_for("b", 5.0) is None
    assert table.blocked_for("a", 5.0) is not None  # a, blocked and recent, is kept


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (b"Bearer stk_abc", "stk_abc"),
        (b"bearer   stk_abc  ", "stk_abc"),
        (b"Basic " + base64.b64encode(b"stk_write:"), "stk_write"),
        (b"Basic " + base64.b64encode(b":password-only"), None),
        (b"Basic not-base64!", None),
        (b"Bearer ", None),
        (b"Token stk_abc", None),
    ],
)
def test_the_presented_key_is_the_bearer_value_or_the_basic_user(header: bytes, key: str | None) -> None:
    assert presented_key([(b"content-type", b"application/json"), (b"authorization", header)]) == key


def test_no_authorization_header_presents_no_key() -> None:
    assert presented_key([(b"host", b"ingest")]) is None


def test_logs_name_a_key_by_its_prefix_never_the_whole_key() -> None:
    assert key_prefix("stk_AbCdEfGhIjKlMnOpQrStUvWxYz") == "stk_AbCdEfGh…"
    assert key_prefix("short1") == "sho…"  # a short made-up key is not logged whole either


def test_the_report_logs_once_per_interval_with_counts(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    report = AuthReport(60.0, clock)
    with caplog.at_level(logging.WARNING):
        report.failed("203.0.113.7", None, [])
        for _ in range(19):
            report.failed("203.0.113.7", "stk_AbCdEfGh…", [])
        report.failed("203.0.113.7", "stk_AbCdEfGh…", ["address", "key"])
        for _ in range(500):
            report.throttled()
        clock.now += 60.0
        report.throttled()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "authentication: 1 failed, 0 refused 429",
        "authentication: 20 failed, 501 refused 429 in the last 60 s; "
        "newly blocked: address 203.0.113.7, key stk_AbCdEfGh…",
    ]
