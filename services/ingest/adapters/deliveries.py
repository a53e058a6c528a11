"""The connectors' delivery ledger: which CRM event ids are already in Kafka, so a redelivery is not re-published.

A claim inserts the ids in a transaction that stays open until Kafka acknowledged the events: a concurrent
redelivery of the same id waits on the primary key and then sees it taken, and a failed publish rolls the
claim back, so the CRM's retry publishes. Only a crash between Kafka's ack and the commit can still put an id
in Kafka twice (the stage engine stores it once).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.adapters.tables import connector_deliveries


class DeliveryLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @contextlib.asynccontextmanager
    async def claim(self, connector: str, event_ids: Iterable[str]) -> AsyncIterator[set[str]]:
        """Yields the ids not published before; they count as published only if the block ends without error."""
        # Sorted: two deliveries claiming overlapping ids take the row locks in the same order (no deadlock).
        rows = [{"event_id": event_id, "connector": connector} for event_id in sorted(set(event_ids))]
        if not rows:
            yield set()
            return
        async with self._engine.begin() as conn:
            statement = (
                insert(connector_deliveries)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(connector_deliveries.c.event_id)
            )
            yield set((await conn.execute(statement)).scalars())
