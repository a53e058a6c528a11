"""Shutdown is bounded: a background loop that will not stop is abandoned, not waited on forever."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.common.service import stop_tasks


async def _stubborn(released: asyncio.Event) -> None:
    """Like a client library whose close waits on a coordinator that never answers."""
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue


async def _polite() -> None:
    await asyncio.sleep(3600)


async def test_a_task_that_ignores_cancel_is_abandoned_and_named(caplog: pytest.LogCaptureFixture) -> None:
    released = asyncio.Event()
    stubborn = asyncio.create_task(_stubborn(released), name="stubborn-loop")
    polite = asyncio.create_task(_polite(), name="polite-loop")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(stop_tasks([stubborn, polite], timeout_seconds=0.2), timeout=5)
    assert polite.cancelled()
    assert not stubborn.done()
    assert "stubborn-loop did not stop" in caplog.text
    assert "polite-loop" not in caplog.text
    released.set()
    await stubborn
