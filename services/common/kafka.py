"""Kafka plumbing: the durable producer settings and topic creation."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

log = logging.getLogger(__name__)


def durable_producer(bootstrap_servers: str, **overrides: object) -> AIOKafkaProducer:
    """A producer whose acknowledgement means the record is on every in-sync replica.

    aiokafka defaults to acks=1; stagetrack answers 2xx only on acks=all with idempotence.
    """
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": None,
        "request_timeout_ms": 10_000,
        "client_id": "stagetrack",
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def ensure_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int) -> list[str]:
    """Create the topics that are missing; returns the names created. A topic the broker refused raises
    (a creation failure would otherwise surface much later as UnknownTopicOrPartitionError)."""
    async with _admin(bootstrap_servers) as admin:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t not in existing]
        if not wanted:
            return []
        try:
            response = await admin.create_topics(
                [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in wanted]
            )
        except TopicAlreadyExistsError:
            log.info("topics created concurrently: %s", wanted)
            return wanted
        refused = [
            f"{topic}: {for_code(code).__name__} {rest[0] if rest else ''}".rstrip()
            for topic, code, *rest in response.topic_errors
            if code not in (0, TopicAlreadyExistsError.errno)  # created, or created concurrently
        ]
        if refused:
            raise RuntimeError(f"Kafka refused to create topics: {'; '.join(refused)}")
        return wanted


async def delete_topics(bootstrap_servers: str, topics: Iterable[str]) -> None:
    """Deletes the topics (those missing are ignored): scratch topics of tests and benchmarks."""
    async with _admin(bootstrap_servers) as admin:
        existing = set(await admin.list_topics())
        if doomed := [t for t in topics if t in existing]:
            await admin.delete_topics(doomed)


async def ping(bootstrap_servers: str, timeout_seconds: float) -> None:
    """Raises unless a broker answers a metadata request within the timeout."""
    async with _admin(bootstrap_servers, timeout_seconds) as admin:
        await admin.list_topics()


@contextlib.asynccontextmanager
async def _admin(bootstrap_servers: str, timeout_seconds: float = 10.0) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed afterwards (also when it did not start)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_seconds * 1000))
    try:
        await admin.start()
        yield admin
    finally:
        await admin.close()
