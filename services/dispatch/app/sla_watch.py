"""The SLA watch: fires the deadlines that passed while their lead stayed (domain/breaches.py says when).

Each round, for the partitions this dispatcher reads, it takes the deadlines due by the partition's cutoff
(read-up-to less the grace), deletes them and queues their `sla_breached` moments in one transaction, so a
deadline fires once however often the round runs and however many dispatchers share the group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.common.loop_health import ThrottledLog
from services.dispatch.adapters import deadline_store, intake_store
from services.dispatch.adapters.metrics import DispatchMetrics
from services.dispatch.domain.breaches import breach, firing_cutoff
from services.dispatch.domain.model_rules import ModelRules
from services.dispatch.domain.outgoing import NewDelivery, outgoing
from services.dispatch.domain.subscriptions import Subscriptions

log = logging.getLogger(__name__)
ROUND = 500  # deadlines per transaction


class SlaWatch:
    def __init__(
        self,
        engine: AsyncEngine,
        rules: ModelRules,
        subscriptions: Subscriptions,
        metrics: DispatchMetrics,
        *,
        read_up_to: Callable[[], dict[int, datetime]],
        grace: timedelta,
        horizon: timedelta,
        lead_url_base: str,
        poll_seconds: float,
        queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._rules = rules
        self._subscriptions = subscriptions
        self._metrics = metrics
        self._read_up_to = read_up_to
        self._grace = grace
        self._horizon = horizon
        self._base = lead_url_base
        self._poll = poll_seconds
        self._queued = queued
        self._failures = ThrottledLog(log)

    async def run(self) -> None:
        while True:
            try:
                while await self.fire_due() == ROUND:
                    pass
                self._failures.recovered()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away: the deadlines wait, none is lost
                self._failures.failure("the SLA watch could not fire due deadlines; retrying", exc)
            await asyncio.sleep(self._poll)

    async def fire_due(self) -> int:
        """One round; returns how many deadlines fired."""
        cutoffs = {p: firing_cutoff(mark, self._grace) for p, mark in self._read_up_to().items()}
        if not cutoffs:
            return 0
        found_at = datetime.now(UTC)
        deliveries: list[NewDelivery] = []
        async with self._engine.connect() as sa_conn:
            conn = await raw_connection(sa_conn)
            async with conn.transaction():
                due = await deadline_store.take_due(conn, cutoffs, ROUND)
                for each in due:
                    division = self._rules.division_of.get(each.deadline.stage)
                    moment = breach(each.lead_id, each.deadline, division, each.crm_ids, found_at, each.source)
                    found = outgoing(moment, self._subscriptions, self._base)
                    if found:
                        self._metrics.moments.labels(moment.kind).inc()
                    deliveries += found
                await intake_store.queue_deliveries(conn, deliveries, self._horizon)
        if due:
            log.info("%d SLA deadline(s) passed; %d webhook(s) queued", len(due), len(deliveries))
        if deliveries:
            self._queued()
        return len(due)
