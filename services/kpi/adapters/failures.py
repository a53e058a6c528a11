"""Which projection failures are the record's own (set it aside) and which are the database's (retry).

docs/kpi.md "Set aside" has the table. In short, by PostgreSQL's SQLSTATE class:
- the record's: 22 data exception (numeric overflow, a time or text the column refuses), 23 integrity
  constraint violation (a CHECK, NOT NULL or foreign key), 54 program limit exceeded (a value too large for
  an index row); a value asyncpg cannot encode for its column (client-side DataError); and `ProjectionError`,
  the projection's own refusal of one record (an event it cannot read, a stage the model does not know).
- transient: 08 connection exception, 40 transaction rollback (serialization failure, deadlock), 53
  insufficient resources, 57 operator intervention (shutdown, cancelled statement), 55P03 lock not available
  (lock_timeout); a lost connection (OSError, asyncpg's InterfaceError, ConnectionError) and anything else.
Anything not known to be the record's is retried from the checkpoint, never skipped: a failure that does not
go away shows as a stall (`/readyz`, `stagetrack_loop_stalled`), not as lost records.
"""

from __future__ import annotations

import asyncpg

from services.kpi.domain.projection import ProjectionError

RECORD_CLASSES = frozenset({"22", "23", "54"})
TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57"})
TRANSIENT_STATES = frozenset({"55P03"})
MAX_REASON = 2000  # characters kept of a reason (a database message can quote a whole row)


def sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_record_failure(exc: BaseException) -> bool:
    """True when the failure is caused by the data of a record (retrying the same record fails the same way)."""
    if isinstance(exc, ProjectionError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = sqlstate(exc) or ""
        if state in TRANSIENT_STATES or state[:2] in TRANSIENT_CLASSES:
            return False
        return state[:2] in RECORD_CLASSES
    # asyncpg refuses to encode a value for its column before sending it (e.g. an integer out of int4 range).
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


def reason(exc: BaseException) -> str:
    """The error on one line with its SQLSTATE (and PostgreSQL's DETAIL): "NumericValueOutOfRangeError
    (22003): numeric field overflow DETAIL: A field with precision 20, scale 4 must round to ..."."""
    state = sqlstate(exc)
    text = f"{type(exc).__name__}{f' ({state})' if state else ''}: {exc}"
    return " ".join(text.replace("\x00", "\\0").split())[:MAX_REASON]
