"""Consumes stagetrack.lead-events in the dispatcher's own group, with offsets kept in PostgreSQL.

Like the engine's consumer (aiokafka's "Storing Offsets Outside Kafka"): on assignment each partition seeks
to the offset stored with the intake's effects; Kafka's own commit is not used; a batch that fails (PostgreSQL
away) is retried until it commits, never skipped. A partition the group never read starts at the log's end
(`latest`: a new dispatcher does not send the history again) or its start (`earliest`), and that offset is
stored at once, so a restart before the first batch does not skip what was published meanwhile.

It also says how far each partition has been read (`read_up_to`): the Kafka time of the newest fetch after
which the partition held nothing more to take, less a second for the fetch's own flight. The SLA watch fires
a partition's deadlines only up to that instant, so a move published before a deadline cancels it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import raw_connection
from services.common.kafka import security_options
from services.common.kafka_security import PLAINTEXT, KafkaSecurity
from services.common.loop_health import BrakeEngaged, LoopHealth, ThrottledLog
from services.dispatch.adapters.intake_store import store_offsets, stored_offsets

log = logging.getLogger(__name__)
Process = Callable[[Sequence[ConsumerRecord]], Awaitable[None]]
FETCH_FLIGHT = timedelta(seconds=1)


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: LeadEventsConsumer) -> None:
        self._owner = owner
        self._failures = ThrottledLog(log)
        self.next_offsets: dict[TopicPartition, int] = {}

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._owner.busy:  # the batch being taken in commits first
            for tp in revoked:
                self.next_offsets.pop(tp, None)
                self._owner.marks.pop(tp.partition, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        delay = 0.5
        while True:
            try:
                starts = await self._owner.starting_offsets(assigned)
                break
            except Exception as exc:  # PostgreSQL or Kafka away for a moment: a partition not sought is never read
                self._failures.failure(f"could not find where to start {sorted(assigned)}; retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._failures.recovered()
        for tp in assigned:  # no await from here on: seek and take from the same offset
            self._owner.consumer.seek(tp, starts[tp])
            self.next_offsets[tp] = starts[tp]
        log.info("assigned %s; starting at %s", sorted(assigned), {tp.partition: o for tp, o in starts.items()})

    def take(self, fetched: Mapping[TopicPartition, list[ConsumerRecord]]) -> list[ConsumerRecord]:
        taken: list[ConsumerRecord] = []
        for tp in sorted(fetched):
            next_offset = self.next_offsets.get(tp)
            if next_offset is None:
                continue  # not sought yet: fetched again from the sought offset
            records = [r for r in fetched[tp] if r.offset >= next_offset]
            if records:
                self.next_offsets[tp] = records[-1].offset + 1
                taken += records
        return taken


class LeadEventsConsumer:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        engine: AsyncEngine,
        start_from: Literal["earliest", "latest"],
        process: Process,
        health: LoopHealth,
        max_records: int = 500,
        failure_log_interval_seconds: float = 60.0,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            client_id="stagetrack-dispatch",
            **security_options(security),
        )
        self.busy = asyncio.Lock()
        self.marks: dict[int, datetime] = {}  # partition -> read up to
        self._topic, self._group, self._engine, self._start_from = topic, group_id, engine, start_from
        self._listener = _SeekToStoredOffsets(self)
        self._process = process
        self._health = health
        self._max_records = max_records
        self._failures = ThrottledLog(log, failure_log_interval_seconds)
        health.set_pending(self.lag)

    def read_up_to(self) -> dict[int, datetime]:
        return dict(self.marks)

    def lag(self) -> float:
        behind = 0
        for tp, next_offset in list(self._listener.next_offsets.items()):
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                behind += max(highwater - next_offset, 0)
        return float(behind)

    async def run(self) -> None:
        await self._start()
        self.consumer.subscribe([self._topic], listener=self._listener)
        try:
            while self._health.braked_reason is None:
                fetched = await self.consumer.getmany(timeout_ms=500, max_records=self._max_records)
                async with self.busy:
                    records = self._listener.take(fetched)
                    if records:
                        await self._until_committed(records)
                    else:
                        self._health.progressed()  # looked, and nothing waits here
                    self._note_marks()
        except BrakeEngaged:
            pass
        finally:
            await self.consumer.stop()
        log.error("the lead-events consumer stopped: %s", self._health.braked_reason)

    async def starting_offsets(self, assigned: set[TopicPartition]) -> dict[TopicPartition, int]:
        async with self._engine.begin() as sa_conn:
            conn = await raw_connection(sa_conn)
            stored = await stored_offsets(conn, self._group, self._topic)
            fresh = [tp for tp in assigned if tp.partition not in stored]
            if not fresh:
                return {tp: stored[tp.partition] for tp in assigned}
            if self._start_from == "latest":
                found = await self.consumer.end_offsets(fresh)
            else:
                found = await self.consumer.beginning_offsets(fresh)
            await store_offsets(conn, self._group, self._topic, {tp.partition: found[tp] for tp in fresh})
        return {tp: stored.get(tp.partition, found.get(tp, 0)) for tp in assigned}

    def _note_marks(self) -> None:
        for tp, next_offset in self._listener.next_offsets.items():
            highwater = self.consumer.highwater(tp)
            polled = self.consumer.last_poll_timestamp(tp)
            if highwater is None or polled is None or next_offset < highwater:
                continue
            mark = datetime.fromtimestamp(polled / 1000, UTC) - FETCH_FLIGHT
            if mark > self.marks.get(tp.partition, mark - FETCH_FLIGHT):
                self.marks[tp.partition] = mark

    async def _start(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.consumer.start()
                return
            except KafkaError as exc:
                log.warning("Kafka not reachable (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _until_committed(self, records: list[ConsumerRecord]) -> None:
        delay = 0.2
        while True:
            try:
                await self._process(records)
                break
            except (asyncio.CancelledError, BrakeEngaged):
                raise
            except Exception as exc:  # retried, never skipped: logged once per interval with a count
                self._failures.failure(f"batch of {len(records)} lead events failed; retrying (backoff up to 5 s)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._failures.recovered()
