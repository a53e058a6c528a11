"""RepeatedLogFilter: each message once per interval, the repeats counted and summarised, nothing lost silently."""

from __future__ import annotations

import logging
import uuid

import pytest

from services.common.repeat_filter import RepeatedLogFilter, throttle_loggers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def test_a_storm_of_one_message_is_one_line_per_interval_with_the_count(logged: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    logger = logging.getLogger(f"client-{uuid.uuid4().hex}")
    quiet = RepeatedLogFilter(60, clock)
    logger.addFilter(quiet)
    for node in range(5000):
        logger.error("Unable connect to node with id %s: %s", node % 3, "refused")
    clock.now = 61
    logger.error("Unable connect to node with id %s: %s", 1, "refused")
    assert [r.getMessage() for r in logged.records] == [
        "Unable connect to node with id 0: refused",
        "Unable connect to node with id 1: refused [and 4,999 more like it in the last 61 s, not logged]",
    ]


def test_different_messages_and_levels_are_counted_apart(logged: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(f"client-{uuid.uuid4().hex}")
    logger.addFilter(RepeatedLogFilter(60, Clock()))
    for _ in range(3):
        logger.error("Unable to update metadata from %s", [1])
        logger.warning("Unable to update metadata from %s", [1])
        logger.error("Got error produce response on %s", "tp-0")
    assert len(logged.records) == 3


def test_flush_reports_what_was_held_back_in_one_line_without_traceback(logged: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(f"client-{uuid.uuid4().hex}")
    quiet = RepeatedLogFilter(60, Clock())
    logger.addFilter(quiet)
    for _ in range(4):
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError:
            logger.exception("connect failed")
    quiet.flush()
    assert [r.getMessage() for r in logged.records] == [
        "connect failed",
        "connect failed [and 2 more like it in the last 0 s, not logged]",
    ]
    assert logged.records[0].exc_info is not None and logged.records[1].exc_info is None
    quiet.flush()  # nothing more held back: nothing more logged
    assert len(logged.records) == 2


def test_throttle_loggers_covers_the_children_once(logged: pytest.LogCaptureFixture) -> None:
    parent = f"lib-{uuid.uuid4().hex}"
    child = logging.getLogger(f"{parent}.conn")
    first = throttle_loggers([parent], 60)
    again = throttle_loggers([parent], 30)
    assert again is first and first.interval_seconds == 30
    assert child.filters.count(first) == 1 and logging.getLogger(parent).filters.count(first) == 1
    for _ in range(10):
        child.error("refused")
    assert len(logged.records) == 1
