"""Kafka plumbing: the clients' security options, the durable producer settings and topic creation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

from services.common.kafka_replication import Replication, planned, shortfalls
from services.common.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)
MIN_INSYNC = "min.insync.replicas"


def security_options(security: KafkaSecurity) -> dict[str, Any]:
    """aiokafka's security arguments, the same for producers, consumers and admin clients. None for PLAINTEXT
    (aiokafka's defaults). The TLS context verifies the brokers' certificates and host names."""
    if security.protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.uses_sasl:
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = security.sasl_password
    if security.uses_tls:
        options["ssl_context"] = create_ssl_context(
            cafile=security.ca_file,
            certfile=security.cert_file,
            keyfile=security.key_file,
            password=security.key_password or "",  # never OpenSSL's interactive prompt for an encrypted key
        )
    return options


def durable_producer(
    bootstrap_servers: str, *, security: KafkaSecurity = PLAINTEXT, **overrides: object
) -> AIOKafkaProducer:
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
        **security_options(security),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int,
    *,
    security: KafkaSecurity = PLAINTEXT,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the topics that are missing, with the replication `kafka_replication.planned` chooses for the
    cluster; returns the names created. Warns (logs) when that replication is less than safe, and names each
    existing topic that has less than it. A topic the broker refused raises (a creation failure would otherwise
    surface much later as UnknownTopicOrPartitionError)."""
    topics = list(topics)
    async with _admin(bootstrap_servers, security) as admin:
        brokers = len((await admin.describe_cluster())["brokers"])
        replication, warnings = planned(brokers, replication_factor, min_insync_replicas)
        existing = set(await admin.list_topics())
        present = [t for t in topics if t in existing]
        for problem in shortfalls(await _replication_of(admin, present), replication) if present else []:
            log.warning("%s", problem)
        wanted = [t for t in topics if t not in existing]
        if not wanted:
            return []
        for warning in warnings:
            log.warning("%s", warning)
        configs = {MIN_INSYNC: str(replication.min_insync)}
        try:
            response = await admin.create_topics(
                [NewTopic(t, partitions, replication.factor, topic_configs=configs) for t in wanted]
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
        await _until_listed(admin, wanted, listed=True)
        return wanted


async def delete_topics(bootstrap_servers: str, topics: Iterable[str], *, security: KafkaSecurity = PLAINTEXT) -> None:
    """Deletes the topics (those missing are ignored): scratch topics of tests and benchmarks."""
    async with _admin(bootstrap_servers, security) as admin:
        existing = set(await admin.list_topics())
        if doomed := [t for t in topics if t in existing]:
            await admin.delete_topics(doomed)
            await _until_listed(admin, doomed, listed=False)


async def _until_listed(admin: AIOKafkaAdminClient, topics: list[str], *, listed: bool, seconds: float = 10.0) -> None:
    """Waits until the brokers' metadata shows the topics created (or gone): the controller answers first and
    the brokers learn of it a moment later, so whoever uses the topics next finds them as the answer said."""
    deadline = time.monotonic() + seconds
    while True:
        names = set(await admin.list_topics())
        if (set(topics) <= names) if listed else not (set(topics) & names):
            return
        if time.monotonic() > deadline:
            log.warning(
                "topics %s not yet %s in the metadata after %.0f s", topics, "listed" if listed else "gone", seconds
            )
            return
        await asyncio.sleep(0.05)


async def ping(bootstrap_servers: str, timeout_seconds: float, *, security: KafkaSecurity = PLAINTEXT) -> None:
    """Raises unless a broker answers a metadata request within the timeout."""
    async with _admin(bootstrap_servers, security, timeout_seconds) as admin:
        await admin.list_topics()


async def _replication_of(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, Replication]:
    """Each topic's fewest copies of a partition and its effective min.insync.replicas."""
    described = await admin.describe_topics(topics)
    factors = {t["topic"]: min((len(p["replicas"]) for p in t["partitions"]), default=0) for t in described}
    resources = [ConfigResource(ConfigResourceType.TOPIC, t, configs={MIN_INSYNC: None}) for t in topics]
    insync = {
        resource["resource_name"]: int(entry["config_value"])
        for response in await admin.describe_configs(resources)
        for resource in response.to_object()["resources"]
        for entry in resource["config_entries"]
        if entry["config_names"] == MIN_INSYNC
    }
    return {t: Replication(factors.get(t, 0), insync.get(t, 1)) for t in topics}


@contextlib.asynccontextmanager
async def _admin(
    bootstrap_servers: str, security: KafkaSecurity, timeout_seconds: float = 10.0
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed afterwards (also when it did not start)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(timeout_seconds * 1000),
        **security_options(security),
    )
    try:
        await admin.start()
        yield admin
    finally:
        await admin.close()
