"""The records of every request in flight, appended to one Kafka batch per partition and sent together.

aiokafka's `send()` costs about as much Python per record as the rest of the ingest's work on an event (a
future, a metadata check and an accumulator lookup for each one). Here a request appends its records to the
partition's open batch (`BatchBuilder.append`) and waits on one future per batch it touched. The open batches
are handed to the producer when the event loop has run every request ready in the same turn, so coalescing
adds no waiting: a lone request is sent at once, and requests arriving together share batches.

The first request of a turn to a partition with no batch waiting to be handed over closes its batch there and
then: the requests after it in the turn share the next one. Otherwise requests that arrive together are all answered
together, the clients send again together, and the ingest idles while every request waits on one produce request
(lockstep); this way the first is answered a round trip earlier and the requests drift apart (~11 % more events/s
in the ingest benchmark, docs/benchmarks.md).

Per partition one sender hands the batches over in the order they were opened, so each partition keeps the
order of its records (the producer is idempotent: its retries neither drop nor repeat them). A batch's outcome
is every request's in it: if Kafka refuses or loses one batch, each request with a record in it is answered
503 and retries with the same event ids (deduplicated downstream); the others are not affected.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerClosed
from aiokafka.producer.message_accumulator import BatchBuilder

Outcome = asyncio.Future[None]  # one batch's: set once the broker acknowledged it (acks=all), or its error


class PartitionBatches:
    """One producer's open batches. Not shared between producers: a discarded producer keeps its own."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._loop = asyncio.get_running_loop()
        self._open: dict[int, tuple[BatchBuilder, Outcome]] = {}  # partition -> batch taking records
        self._full: dict[int, collections.deque[tuple[BatchBuilder, Outcome]]] = collections.defaultdict(
            collections.deque
        )  # closed, in the order opened, not yet handed over
        self._senders: dict[int, asyncio.Task[None]] = {}
        self._flush_scheduled = False

    def append(self, records: Iterable[tuple[int, bytes, bytes]]) -> set[Outcome]:
        """Adds (partition, key, value) records to the open batches; returns the outcomes to wait for."""
        outcomes = set()
        for partition, key, value in records:
            entry = self._open.get(partition) or self._opened(partition)
            if entry[0].append(key=key, value=value, timestamp=None) is None:  # full: the next one takes it
                self._full[partition].append(entry)
                entry = self._opened(partition)
                entry[0].append(key=key, value=value, timestamp=None)  # an empty batch takes any one record
            outcomes.add(entry[1])
        for partition, entry in list(self._open.items()):
            if entry[1] in outcomes and partition not in self._senders and not self._full.get(partition):
                self._full[partition].append(self._open.pop(partition))  # the first request alone: see above
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return outcomes

    async def hand_over(self) -> None:
        """Hands every batch to the producer (before it stops: its stop delivers what it holds)."""
        self._flush()
        while self._senders:
            await asyncio.gather(*self._senders.values(), return_exceptions=True)

    def _opened(self, partition: int) -> tuple[BatchBuilder, Outcome]:
        outcome = self._loop.create_future()
        outcome.add_done_callback(_retrieved)
        entry = self._open[partition] = (self._producer.create_batch(), outcome)
        return entry

    def _flush(self) -> None:
        """Every request ready in this turn of the loop has appended: start the senders of the partitions that
        have records and none running (a running one takes the open batch when the producer has room)."""
        self._flush_scheduled = False
        for partition in [*self._open, *(p for p, full in self._full.items() if full)]:
            if partition not in self._senders:
                task = self._loop.create_task(self._send(partition))
                self._senders[partition] = task

    def _next(self, partition: int) -> tuple[BatchBuilder, Outcome] | None:
        full = self._full.get(partition)
        if full:
            return full.popleft()
        return self._open.pop(partition, None)

    async def _send(self, partition: int) -> None:
        try:
            while (entry := self._next(partition)) is not None:
                builder, outcome = entry
                # Closed before it is handed over, never left open for later records as `send()` leaves its own:
                # the producer numbers a batch's records (idempotence) when it takes the batch from its queue, before
                # it builds the request, and a record appended in between fails the batch (OutOfOrderSequenceNumber).
                builder.close()
                try:
                    # waits while the partition's previous batch is still queued in the producer
                    acknowledged = await self._producer.send_batch(builder, self._topic, partition=partition)
                except asyncio.CancelledError:
                    _settle(outcome, ProducerClosed())
                    raise
                except Exception as exc:  # the producer failed or had no room in time: this batch's requests 503
                    _settle(outcome, exc)
                    continue
                acknowledged.add_done_callback(lambda done, outcome=outcome: _copy(done, outcome))
        finally:
            del self._senders[partition]


def _copy(done: asyncio.Future[object], outcome: Outcome) -> None:
    _settle(outcome, ProducerClosed() if done.cancelled() else done.exception())


def _retrieved(outcome: Outcome) -> None:
    """A request that gave up waiting (its timeout) leaves its batch's error unread: read here, so asyncio does
    not log it as never retrieved; the requests that waited were answered 503 with it."""
    if not outcome.cancelled():
        outcome.exception()


def _settle(outcome: Outcome, exc: BaseException | None) -> None:
    if outcome.done():
        return
    if exc is None:
        outcome.set_result(None)
    else:
        outcome.set_exception(exc)
