"""Publishes accepted events to Kafka; returns only once the broker acknowledged every one (acks=all).

The records of requests in flight together share batches (`partition_batches`); each request waits for the
batches that hold its records, and is answered 503 if any of them fails or is not acknowledged in time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry, Histogram

from services.common.envelope import Event, encode
from services.common.kafka import durable_producer
from services.common.kafka_security import PLAINTEXT, KafkaSecurity
from services.ingest.adapters.partition_batches import PartitionBatches

log = logging.getLogger(__name__)


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition aiokafka's DefaultPartitioner picks for `key` (murmur2, as the Java client does), with the
    hash cached: aiokafka computes it in pure Python on every send, and one lead or visitor sends many events.
    `partitions` as aiokafka lists them: `list(await producer.partitions_for(topic))`."""
    return partitions[_key_hash(key) % len(partitions)]


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge (unreachable, failed, or not in time); the client is told 503 and retries with
    the same event ids. The message says which, and how long the ingest waited."""


class KafkaPublisher:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        send_timeout_seconds: float,
        registry: CollectorRegistry,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._security = security
        self._topic = topic
        self._timeout = send_timeout_seconds
        self._producer: tuple[AIOKafkaProducer, PartitionBatches] | None = None
        self._starting = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()
        self._latency = Histogram(
            "stagetrack_ingest_kafka_send_seconds",
            "Time from handing a request's events to Kafka until all were acknowledged",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                producer, batches = await self._ready_producer()
                partitions = list(await producer.partitions_for(self._topic))
                outcomes = batches.append(_records(events, partitions))
                await asyncio.wait(outcomes)  # not gather: a timeout must not cancel batches other requests share
                for outcome in outcomes:
                    if (exc := outcome.exception()) is not None:
                        raise exc
        except (TimeoutError, KafkaError, OSError) as exc:
            self._discard_producer()
            what, details = _what_happened(exc, self._timeout, time.perf_counter() - started)
            # one format per kind of failure: the bootstrap's repeat filter logs each once per interval
            log.warning(f"events not published, answered 503: {what}: %r", *details, exc)
            raise BrokerUnavailable(what % details) from exc
        self._latency.observe(time.perf_counter() - started)

    async def _ready_producer(self) -> tuple[AIOKafkaProducer, PartitionBatches]:
        """Starts the producer on first use and after a failed start, so a broker outage heals by itself."""
        if self._producer is not None:
            return self._producer
        async with self._starting:
            if self._producer is None:
                producer = durable_producer(self._bootstrap_servers, security=self._security)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer, PartitionBatches(producer, self._topic)
        return self._producer

    def _discard_producer(self) -> None:
        """After a failure the next request starts a fresh producer: aiokafka's idempotent producer can stay
        wedged after a broker restart. The old one is stopped in the background (it may still deliver what it
        holds; those events were answered 503 and their retries are deduplicated by event_id)."""
        old, self._producer = self._producer, None
        if old is not None:
            task = asyncio.create_task(_stop_quietly(*old))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Delivers what requests in flight appended, then stops the producer."""
        if self._producer is not None:
            producer, batches = self._producer
            await batches.hand_over()
            await producer.stop()
            self._producer = None
        for task in list(self._stopping):
            await task


def _records(events: Sequence[Event], partitions: Sequence[int]) -> Iterator[tuple[int, bytes, bytes]]:
    for event in events:
        key = event.partition_key.encode()
        yield partition_for(key, partitions), key, encode(event)


def _what_happened(exc: BaseException, timeout: float, waited: float) -> tuple[str, tuple[object, ...]]:
    """The 503's reason in plain words, as a %-format and its values: unreachable, failed, or not in time, and
    how long the ingest waited (the error's type, never its text: that names internal addresses)."""
    if isinstance(exc, TimeoutError):
        return "Kafka did not acknowledge within %g s", (timeout,)
    if isinstance(exc, (KafkaConnectionError, OSError)):
        return "Kafka is unreachable (%s after %.2f s)", (type(exc).__name__, waited)
    return "the Kafka producer failed (%s after %.2f s)", (type(exc).__name__, waited)


async def _stop_quietly(producer: AIOKafkaProducer, batches: PartitionBatches) -> None:
    try:
        async with asyncio.timeout(30):
            await batches.hand_over()
            await producer.stop()
    except Exception as exc:  # the producer is being thrown away; only log why its stop failed
        log.warning("discarded Kafka producer did not stop cleanly: %r", exc)
