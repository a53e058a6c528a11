"""PostgreSQL plumbing: one async engine per service, created in bootstrap."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from services.common.database_tls import DatabaseTls

# Stable constraint names so Alembic migrations can drop what they created.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(
    database_url: str,
    schema: str = "public",
    pool_size: int = 10,
    lock_timeout_seconds: float | None = None,
    tls: DatabaseTls | None = None,
) -> AsyncEngine:
    """An asyncpg engine whose connections use `schema` first (tests get a schema of their own). With
    `lock_timeout_seconds`, a statement waiting longer for a lock fails (LockNotAvailableError) instead of
    waiting on. `tls`: the settings' `database_tls` (None: asyncpg's default, sslmode prefer or PGSSLMODE)."""
    server_settings = {"search_path": f"{schema},public", "application_name": "stagetrack"}
    if lock_timeout_seconds is not None:
        server_settings["lock_timeout"] = f"{round(lock_timeout_seconds * 1000)}ms"
    return create_async_engine(
        database_url, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args(server_settings, tls)
    )


def connect_args(server_settings: dict[str, str] | None = None, tls: DatabaseTls | None = None) -> dict[str, object]:
    """asyncpg's connect arguments: session settings and TLS."""
    args: dict[str, object] = {} if server_settings is None else {"server_settings": server_settings}
    if tls is not None:
        args["ssl"] = tls.ssl_argument()
    return args


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def raw_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a pooled SQLAlchemy one, for what goes straight to the driver (COPY,
    executemany, per-statement timeouts, asyncpg's own transactions); it returns to the pool with `conn`."""
    driver = (await conn.get_raw_connection()).driver_connection
    if not isinstance(driver, asyncpg.Connection):
        raise TypeError(f"expected an asyncpg connection, got {type(driver).__name__}")
    return driver


@contextlib.asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg connection, for work that runs asyncpg's own transactions on it. Cancelled
    while rolling back, the connection can still be inside a transaction: it is then invalidated, never handed
    on (the pool's next user would fail: "manually started transaction")."""
    async with engine.connect() as conn:
        driver = await raw_connection(conn)
        try:
            yield driver
        finally:
            if driver.is_in_transaction():
                await conn.invalidate()
