"""The batch behind appends only after the batch in front committed the outcome it used."""

from __future__ import annotations

import asyncio

import pytest

from services.stage_engine.adapters.batch_handoff import Handoff, PredecessorRolledBack
from services.stage_engine.domain.batch import BatchOutcome


async def test_waits_until_the_batch_in_front_committed_the_outcome_it_used() -> None:
    front = Handoff()
    front.outcome = used = BatchOutcome()
    behind = asyncio.ensure_future(front.wait_committed(used))
    await asyncio.sleep(0)
    assert not behind.done()
    front.commit_done()
    await asyncio.wait_for(behind, 1)


async def test_a_rolled_back_attempt_in_front_rolls_the_batch_behind_back() -> None:
    front = Handoff()
    front.outcome = used = BatchOutcome()
    behind = asyncio.ensure_future(front.wait_committed(used))
    await asyncio.sleep(0)
    front.rolled_back.set()
    with pytest.raises(PredecessorRolledBack):
        await asyncio.wait_for(behind, 1)


async def test_another_attempts_outcome_committed_in_front_rolls_the_batch_behind_back() -> None:
    front = Handoff()
    used = BatchOutcome()
    front.outcome = BatchOutcome()  # a retry decided again
    front.commit_done()
    with pytest.raises(PredecessorRolledBack):
        await front.wait_committed(used)
