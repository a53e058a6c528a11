"""The KPI service's write transactions: asyncpg's own, on a pooled connection of the service's engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """asyncpg's own transaction on a pooled connection (statements go straight to the driver)."""
    async with engine.connect() as conn:
        driver = await raw_connection(conn)
        try:
            async with driver.transaction():
                yield driver
        finally:
            # Cancelled while rolling back (a projector stopped mid-batch), the connection can still be inside the
            # transaction; the pool would hand it on and its next user fail ("manually started transaction").
            if driver.is_in_transaction():
                await conn.invalidate()
