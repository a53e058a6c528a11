"""Why a batch failed: because of one of its events (set that event aside), or because of the moment (retry).

The event's fault (`caused_by_an_event`), judged by PostgreSQL's error class:
- 22 data exception (`asyncpg.DataError` and subclasses): a NUL in text or jsonb, a UTC offset beyond ±15:59,
  a number out of range, invalid text for a cast;
- 23 integrity constraint violation (not null, check, foreign key, exclusion), except a unique violation,
  which is two engines racing for one lead version or identity and is retried (as is `IdentityRace`);
- 54 program limit exceeded: an id too long for an index row, a document too large;
- `UnstorableValue`: a value the store's JSON encoding refuses (an integer beyond 64 bits).
Everything else is the moment's and is retried, the batch whole: connection lost (class 08, `OSError`,
`asyncpg.InterfaceError`), serialization failure and deadlock (40), lock timeout (55P03), admin shutdown (57),
insufficient resources (53), and any error not listed here (a bug is not the event's fault: it stalls, and says so).
"""

from __future__ import annotations

import asyncpg


class IdentityRace(Exception):
    """Another engine claimed one of our new identities first; the batch is retried and will merge."""


class UnstorableValue(ValueError):
    """A value of an event that the store's JSON encoding refuses."""


# Two writers met: roll back and run the batch again, soon (the second attempt sees the winner's writes).
CONFLICTS = (
    IdentityRace,
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.LockNotAvailableError,  # lock_timeout: a wait that may be a cycle through two engines' pipelines
)
_EVENT_DATA = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    UnstorableValue,
)


def caused_by_an_event(exc: BaseException) -> bool:
    """The store refused something an event carries: retrying the same batch can only fail the same way."""
    return isinstance(exc, _EVENT_DATA) and not isinstance(exc, CONFLICTS)


def describe(exc: BaseException) -> str:
    """The reason a dead letter carries: the error's class and PostgreSQL's message."""
    return f"{type(exc).__name__}: {exc}"
