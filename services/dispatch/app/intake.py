"""Taking in a batch of lead-event records: one transaction writes what the batch changed of the leads and their
SLA deadlines, the deliveries of the moments it made, the records it could not read, and the offsets past it.

The deliveries it queued that are due at once (nothing of their lead pending before them at that endpoint) are
leased in the same transaction, within the room the deliverer reserved, and handed to the deliverer once it
committed: a new moment is posted without waiting for a claim. A crash between the commit and the answer leaves
the lease to expire, and the deliverer's claim sends the delivery again (same webhook-id).

A record the kernel's contract cannot read is set aside (`dispatch_set_aside`, `stagetrack dispatch failed`
lists it) and the partition moves on; after `set_aside_brake_run` in a row the loop stops (`LoopHealth`), the
batch cut right after the record that reached the brake, so nothing behind it is skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Protocol

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.common.loop_health import LoopHealth
from services.dispatch.adapters import delivery_store, intake_store
from services.dispatch.adapters.delivery_store import Claimed
from services.dispatch.adapters.intake_store import SetAside
from services.dispatch.adapters.lead_event_records import UnreadableRecord, read_record
from services.dispatch.adapters.metrics import DispatchMetrics
from services.dispatch.domain.follow import LeadRecord, follow
from services.dispatch.domain.lead_facts import LeadFacts
from services.dispatch.domain.model_rules import ModelRules
from services.dispatch.domain.outgoing import NewDelivery, outgoing
from services.dispatch.domain.subscriptions import Subscriptions

log = logging.getLogger(__name__)
Item = tuple[ConsumerRecord, LeadRecord | UnreadableRecord]


class Sending(Protocol):
    """The deliverer, as the intake hands it new deliveries (`Deliverer`)."""

    def reserve(self, wanted: Mapping[str, int]) -> dict[str, int]: ...
    def hand_over(self, reserved: Mapping[str, int], leased: Sequence[Claimed]) -> None: ...
    def wake(self) -> None: ...


class Intake:
    def __init__(
        self,
        engine: AsyncEngine,
        rules: ModelRules,
        subscriptions: Subscriptions,
        *,
        lead_url_base: str,
        group: str,
        topic: str,
        horizon: timedelta,
        lease: timedelta,
        health: LoopHealth,
        brake_run: int,
        metrics: DispatchMetrics,
        sending: Sending,
    ) -> None:
        self._engine = engine
        self._rules = rules
        self._subscriptions = subscriptions
        self._base = lead_url_base
        self._group = group
        self._topic = topic
        self._horizon = horizon
        self._lease = lease
        self._health = health
        self._brake_run = brake_run
        self._metrics = metrics
        self._sending = sending

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        """Commits the batch (cut at the brake); raises what the database raised (the caller retries the batch),
        or `BrakeEngaged` once the brake is reached (after committing up to it)."""
        items = self._cut_at_brake([(r, _read(r)) for r in records])
        good = [item for _, item in items if isinstance(item, LeadRecord)]
        unreadable = [
            SetAside(r.topic, r.partition, r.offset, r.key, r.value, str(item))
            for r, item in items
            if isinstance(item, UnreadableRecord)
        ]
        deliveries: list[NewDelivery] = []
        made_due, room, handed = 0, {}, []
        try:
            async with self._engine.connect() as sa_conn:
                conn = await raw_connection(sa_conn)
                async with conn.transaction():
                    before = await intake_store.load_facts(conn, sorted({r.lead_id for r in good}))
                    facts = dict(before)
                    for record in good:
                        current = facts.get(record.lead_id) or LeadFacts(record.lead_id)
                        facts[record.lead_id], moments = follow(current, record, self._rules)
                        for moment in moments:
                            found = outgoing(moment, self._subscriptions, self._base)
                            if found:
                                self._metrics.moments.labels(moment.kind).inc()
                            deliveries += found
                    await intake_store.save_facts(conn, before, facts.values())
                    room = self._sending.reserve(Counter(d.endpoint for d in deliveries))
                    made_due = await intake_store.queue_deliveries(conn, deliveries, self._horizon)
                    leased = await delivery_store.lease_queued(
                        conn, [d.webhook_id for d in deliveries], room, self._lease
                    )
                    await intake_store.set_aside(conn, unreadable)
                    await intake_store.store_offsets(conn, self._group, self._topic, _next_offsets(items))
            handed = leased  # committed: theirs to send
        finally:
            self._sending.hand_over(room, handed)
        if made_due > len(handed):
            self._sending.wake()  # due ones it had no room for: the deliverer claims them
        for each in unreadable:
            log.warning("set aside %s/%d/%d: %s", each.topic, each.partition, each.offset, each.reason[:500])
        self._metrics.set_aside.inc(len(unreadable))
        self._health.progressed()
        self._report_runs(items)

    def _cut_at_brake(self, items: list[Item]) -> list[Item]:
        run, continuing = 0, True  # continuing: the run before this batch goes on
        for i, (_, item) in enumerate(items):
            if isinstance(item, LeadRecord):
                run, continuing = 0, False
                continue
            run += 1
            if (self._health.would_brake(run) if continuing else run >= self._brake_run) or (
                self._health.braked_reason is not None
            ):
                return items[: i + 1]
        return items

    def _report_runs(self, items: list[Item]) -> None:
        """Tells the loop's health the runs in order; raises `BrakeEngaged` when a run of set-asides reaches it."""
        runs: list[tuple[bool, int]] = []  # (set aside, how many in a row)
        for _, item in items:
            bad = isinstance(item, UnreadableRecord)
            if runs and runs[-1][0] == bad:
                runs[-1] = (bad, runs[-1][1] + 1)
            else:
                runs.append((bad, 1))
        for bad, count in runs:
            if bad:
                self._health.set_aside(count)
            else:
                self._health.stored(count)


def _read(record: ConsumerRecord) -> LeadRecord | UnreadableRecord:
    try:
        return read_record(record)
    except UnreadableRecord as exc:
        return exc


def _next_offsets(items: Sequence[Item]) -> dict[int, int]:
    offsets: dict[int, int] = {}
    for record, _ in items:
        offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
    return offsets
