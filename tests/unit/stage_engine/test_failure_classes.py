"""Which failures of a batch are an event's (set it aside) and which are the moment's (retry the batch)."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.loop_health import BrakeEngaged
from services.stage_engine.adapters.batch_handoff import Handoff
from services.stage_engine.adapters.store_documents import array_document
from services.stage_engine.adapters.store_errors import IdentityRace, UnstorableValue, caused_by_an_event, describe


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        asyncpg.InvalidTimeZoneDisplacementValueError("time zone displacement out of range"),
        asyncpg.NumericValueOutOfRangeError("numeric field overflow"),
        asyncpg.CheckViolationError('new row for relation "lead_events" violates check constraint "c"'),
        asyncpg.NotNullViolationError("null value in column"),
        asyncpg.ProgramLimitExceededError("index row size exceeds btree version 4 maximum"),
        UnstorableValue("Integer exceeds 64-bit range"),
    ],
    ids=type,
)
def test_the_event_is_at_fault(error: Exception) -> None:
    assert caused_by_an_event(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        IdentityRace("an identity was linked concurrently"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.LockNotAvailableError("canceling statement due to lock timeout"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InsufficientResourcesError("out of memory"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ConnectionResetError(104, "Connection reset by peer"),
        OSError("Connect call failed"),
        RuntimeError("a bug"),
    ],
    ids=type,
)
def test_the_moment_is_at_fault(error: Exception) -> None:
    assert not caused_by_an_event(error)


def test_the_reason_names_the_error_and_its_message() -> None:
    error = asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence")
    assert describe(error) == "UntranslatableCharacterError: unsupported Unicode escape sequence"


def test_a_value_json_cannot_hold_is_the_events_fault() -> None:
    with pytest.raises(UnstorableValue, match="64-bit"):
        array_document([("kind", 10**30)])  # type: ignore[list-item]


async def test_a_batch_that_stops_the_loop_stops_the_batches_behind_it() -> None:
    front = Handoff()
    front.fail(BrakeEngaged("engine-consumer stopped after 3 consecutive set-aside events"))
    with pytest.raises(BrakeEngaged):
        await front.wait_committed(None)
