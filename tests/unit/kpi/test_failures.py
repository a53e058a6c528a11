"""Which projection failures set a record aside (the record's own) and which are retried (docs/kpi.md "Set aside")."""

from __future__ import annotations

import asyncpg
import pytest

from services.kpi.adapters.failures import is_record_failure, reason
from services.kpi.domain.projection import ProjectionError

RECORD = [
    asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow"),  # 22003
    asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted to text"),  # 22P05
    asyncpg.exceptions.InvalidTimeZoneDisplacementValueError("time zone displacement out of range"),  # 22009
    asyncpg.exceptions.CheckViolationError("violates check constraint"),  # 23514
    asyncpg.exceptions.NotNullViolationError("null value in column"),  # 23502
    asyncpg.exceptions.ProgramLimitExceededError("index row size exceeds maximum"),  # 54000
    ProjectionError("position 7: stage 'x' is not in the KPI service's stage model"),
]
TRANSIENT = [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),  # 08003
    asyncpg.exceptions.SerializationError("could not serialize access"),  # 40001
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),  # 40P01
    asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"),  # 55P03
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),  # 57P01
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),  # 57014
    asyncpg.exceptions.TooManyConnectionsError("too many clients already"),  # 53300
    asyncpg.exceptions.UndefinedTableError('relation "kpi_checkpoint" does not exist'),  # 42P01: retried
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionResetError("Connection reset by peer"),
    OSError("Network is unreachable"),
    TimeoutError(),
    RuntimeError("anything else"),
]


@pytest.mark.parametrize("exc", RECORD, ids=lambda e: type(e).__name__)
def test_the_records_own_failures_set_it_aside(exc: BaseException) -> None:
    assert is_record_failure(exc)


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_everything_else_is_retried(exc: BaseException) -> None:
    assert not is_record_failure(exc)


def test_a_value_asyncpg_cannot_encode_is_the_records() -> None:
    client_side = asyncpg.exceptions._base.DataError("invalid input for query argument $2: 3000000000 (out of range)")
    assert is_record_failure(client_side)
    assert not is_record_failure(asyncpg.exceptions._base.InterfaceError("cannot perform operation: closed"))


def test_the_reason_is_one_line_with_the_sqlstate() -> None:
    exc = asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow\nDETAIL:  A field with precision 20")
    assert reason(exc) == (
        "NumericValueOutOfRangeError (22003): numeric field overflow DETAIL: A field with precision 20"
    )
    assert reason(ProjectionError("bad\x00")) == "ProjectionError: bad\\0"
    assert len(reason(RuntimeError("x" * 10_000))) == 2000
