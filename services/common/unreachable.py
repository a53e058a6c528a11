"""Which database failures mean "PostgreSQL is out of reach for now" (a 503, retry later) rather than a bug."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError

# SQLSTATE classes of a server that is there but cannot serve: 08 connection exception, 53 insufficient
# resources (too many connections), 57 operator intervention (shutting down, starting up, crash recovery).
_UNAVAILABLE_CLASSES = ("08", "53", "57")


def database_unreachable(exc: BaseException) -> bool:
    """True for a refused, reset or lost connection, a timeout, or a server that is starting or stopping.

    asyncpg's connect errors (ConnectionRefusedError, ...) reach the caller as plain OSErrors, not wrapped.
    """
    if isinstance(exc, (OSError, TimeoutError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    return state is not None and state[:2] in _UNAVAILABLE_CLASSES


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE on the exception, on SQLAlchemy's wrapped driver error, or on the asyncpg error behind it."""
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, getattr(orig, "__cause__", None), exc.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None
