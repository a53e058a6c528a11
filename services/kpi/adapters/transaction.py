"""The KPI service's write transactions: asyncpg's own, on a pooled connection of the service's engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import driver_connection


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """asyncpg's own transaction on a pooled connection (statements go straight to the driver)."""
    async with driver_connection(engine) as driver, driver.transaction():
        yield driver
