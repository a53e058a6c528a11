"""The engine's use case: take a batch of records from stagetrack.events and make it part of the store,
exactly once, in one transaction with the consumer offsets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.envelope import EnvelopeError, Event, decode
from services.stage_engine.adapters.batch_handoff import Handoff, PredecessorRolledBack
from services.stage_engine.adapters.store import EventStore, IdentityRace, StoreTransaction, TopicPartition
from services.stage_engine.domain.batch import BatchApplier, BatchOutcome, identities_of
from services.stage_engine.domain.email_identity import email_identities
from services.stage_engine.domain.lead import Identity, Lead
from services.stage_engine.domain.model_types import StageModel

log = logging.getLogger(__name__)


class DeadLetterSink(Protocol):
    """Where an event that cannot be processed goes: the dead-letter topic live, a counter in a replay."""

    async def send(self, value: bytes, key: bytes | None, reason: str, origin: tuple[str, int, int]) -> None: ...


# Envelopes decoded or applied between two turns of the event loop (~50 µs each: a turn every few ms).
YIELD_EVERY = 64
RETRYABLE = (
    IdentityRace,
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.LockNotAvailableError,  # lock_timeout: a wait that may be a cycle through two engines' pipelines
)


@dataclass
class EngineMetrics:
    events: Counter
    batch_seconds: Histogram
    last_event_time: Gauge
    conflicts: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> EngineMetrics:
        return cls(
            events=Counter(
                "stagetrack_engine_events",
                "Envelopes taken from stagetrack.events by outcome (applied, duplicate, dead_lettered)",
                ["outcome"],
                registry=registry,
            ),
            batch_seconds=Histogram(
                "stagetrack_engine_batch_seconds", "Time to make one consumed batch durable", registry=registry
            ),
            last_event_time=Gauge(
                "stagetrack_engine_last_processed_timestamp_seconds",
                "Wall-clock time of the last committed batch",
                registry=registry,
            ),
            conflicts=Counter(
                "stagetrack_engine_batch_retries", "Batches retried after a concurrency conflict", registry=registry
            ),
        )


class BatchProcessor:
    def __init__(
        self,
        store: EventStore,
        model: StageModel,
        email_key: bytes,
        dead_letters: DeadLetterSink,
        group_id: str,
        metrics: EngineMetrics,
    ) -> None:
        self._store = store
        self._model = model
        self._email_key = email_key
        self._dead_letters = dead_letters
        self._group_id = group_id
        self._metrics = metrics

    async def process(
        self, records: Sequence[ConsumerRecord], previous: Handoff | None = None, handoff: Handoff | None = None
    ) -> None:
        """Returns once the batch is committed; retries conflicts; raises on other failures (the caller retries).

        `previous`: the batch in front, still committing (this one writes only after it committed);
        `handoff`: how this batch tells the one behind it (`adapters/batch_handoff.py`)."""
        handoff = handoff or Handoff()
        with self._metrics.batch_seconds.time():
            events: list[tuple[Event, ConsumerRecord]] = []
            unreadable: list[tuple[ConsumerRecord, str]] = []
            for n, record in enumerate(records, 1):
                try:
                    events.append((decode(record.value), record))
                except EnvelopeError as exc:
                    unreadable.append((record, str(exc)))
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # see `_apply`
            offsets: dict[TopicPartition, int] = {}
            for record in records:
                offsets[(record.topic, record.partition)] = record.offset + 1
            for attempt in range(1, 21):
                try:
                    await self._commit(events, unreadable, offsets, previous, handoff)
                    break
                except PredecessorRolledBack:
                    handoff.rolled_back.set()
                    assert previous is not None
                    await previous.committed  # it retries until it commits; then this batch goes alone
                    previous = None
                except RETRYABLE as exc:
                    handoff.rolled_back.set()
                    self._metrics.conflicts.inc()
                    log.info("batch conflict (attempt %d), retrying: %r", attempt, exc)
                    await asyncio.sleep(min(0.01 * 2**attempt, 1.0))
                except BaseException:
                    handoff.rolled_back.set()
                    raise
            else:
                raise RuntimeError("batch kept conflicting after 20 attempts")
        handoff.commit_done()
        self._metrics.last_event_time.set_to_current_time()

    async def _commit(
        self,
        events: list[tuple[Event, ConsumerRecord]],
        unreadable: list[tuple[ConsumerRecord, str]],
        offsets: dict[TopicPartition, int],
        previous: Handoff | None,
        handoff: Handoff,
    ) -> None:
        first: dict[str, tuple[Event, ConsumerRecord]] = {}
        for event, record in events:
            first.setdefault(event.event_id, (event, record))
        # An unreadable record has no event id: it is claimed by its place in the log, so a re-read after a
        # rebalance does not dead-letter it again.
        places = {f"kafka:{r.topic}/{r.partition}/{r.offset}": (r, reason) for r, reason in unreadable}
        # every event's identities are looked up with the claim (one round trip); a duplicate's are not used
        extras = {e.event_id: email_identities(e, self._email_key) for e, _ in first.values()}
        identities = {i for e, _ in first.values() for i in identities_of(e, extras[e.event_id])}
        if previous is not None:
            # this batch was decoded while the batch in front decided; it carries that batch's outcome
            await previous.decided.wait()
        async with self._store.transaction() as tx:
            if previous is not None and previous.in_front_committed is not None:
                # decoded, and BEGIN sent, meanwhile: it takes no snapshot or lock. From here at most two batches
                # hold locks, and this one sees everything but the batch in front's writes.
                await previous.in_front_committed
            carried = previous.outcome if previous is not None else None
            fresh, owners, loaded = await tx.claim([*first, *places], identities, carried.leads if carried else ())
            for place, (record, reason) in places.items():
                if place in fresh:
                    await self._dead_letter(record, reason)
            todo = [(e, r) for e, r in first.values() if e.event_id in fresh]
            applied = [(e, extras[e.event_id]) for e, _ in todo]
            leads = await _leads(tx, identities, owners, loaded, carried)
            outcome = await _apply(applied, leads, owners, self._model)
            handoff.outcome = outcome
            records = {e.event_id: r for e, r in todo}
            for event, reason in outcome.rejected:
                await self._dead_letter(records[event.event_id], f"event {event.event_id}: {reason}")

            handoff.decided.set()  # the batch behind may start: this one now only writes

            async def in_turn() -> None:  # the append waits until the batch in front committed
                if previous is not None:
                    await previous.wait_committed(carried)

            in_front = carried.leads.keys() if carried else ()
            front_committed = previous is None or previous.committed.done()
            await tx.write(outcome, self._group_id, offsets, in_turn, in_front, front_committed)
        self._metrics.events.labels("duplicate").inc(len(events) - len(todo))
        self._metrics.events.labels("applied").inc(len(todo) - len(outcome.rejected))

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead-lettering %s/%d/%d: %s", record.topic, record.partition, record.offset, reason)
        await self._dead_letters.send(record.value, record.key, reason, (record.topic, record.partition, record.offset))
        self._metrics.events.labels("dead_lettered").inc()


async def _apply(
    events: list[tuple[Event, tuple[Identity, ...]]],
    leads: dict[str, Lead],
    owners: dict[Identity, str],
    model: StageModel,
) -> BatchOutcome:
    """`apply_batch`, giving the event loop a turn every YIELD_EVERY envelopes: the batch in flight beside this one
    waits for its replies (the append, the commit) to be read, and they are the serial part of the pipeline."""
    batch = BatchApplier(leads, owners, model)
    for n, (event, extra) in enumerate(events, 1):
        batch.apply(event, extra)
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return batch.outcome


async def _leads(
    tx: StoreTransaction,
    identities: set[Identity],
    owners: dict[Identity, str],
    loaded: dict[str, Lead],
    carried: BatchOutcome | None,
) -> dict[str, Lead]:
    """The leads `owners` points at and those they were merged into: `loaded` with the claim, the leads the batch
    in front (not committed yet) changed from its outcome, the rest from the store; `owners` is overlaid with
    the identities of `identities` that batch created (`adapters/batch_handoff.py`)."""
    in_front = carried.leads if carried is not None else {}
    if carried is not None:
        owners.update((i, carried.new_identities[i]) for i in identities & carried.new_identities.keys())
    leads, asked = dict(loaded), set(loaded)
    wanted = ({*owners.values()} | {lead.merged_into for lead in leads.values() if lead.merged_into}) - asked
    while wanted:
        asked |= wanted
        leads.update((lead_id, in_front[lead_id]) for lead_id in wanted & in_front.keys())
        if from_store := wanted - in_front.keys():
            leads.update(await tx.leads(from_store))
        wanted = {lead.merged_into for lead in leads.values() if lead.merged_into} - asked
    return leads
