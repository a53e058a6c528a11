"""What a test asks the secured cluster, through the services' own Kafka settings: a topic's replication and
leaders, every event id on a topic, and a refusal of wrong credentials."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.common.envelope import decode
from services.common.kafka import ping, security_options
from services.common.settings import ServiceSettings
from services.stage_engine.adapters.log_reader import LogReader


@contextlib.asynccontextmanager
async def _admin(settings: ServiceSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, **security_options(settings.kafka_security)
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def replication(settings: ServiceSettings, topics: list[str]) -> dict[str, tuple[int, int, int]]:
    """topic -> (fewest replicas of a partition, min.insync.replicas, fewest in-sync replicas of a partition)."""
    async with _admin(settings) as admin:
        described = await admin.describe_topics(topics)
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, configs={"min.insync.replicas": None}) for t in topics]
        configs = await admin.describe_configs(resources)
    insync = {
        r["resource_name"]: int(e["config_value"])
        for response in configs
        for r in response.to_object()["resources"]
        for e in r["config_entries"]
    }
    return {
        t["topic"]: (
            min(len(p["replicas"]) for p in t["partitions"]),
            insync[t["topic"]],
            min(len(p["isr"]) for p in t["partitions"]),
        )
        for t in described
    }


async def leaders(settings: ServiceSettings, topic: str) -> list[int]:
    """The leader of each partition of `topic`."""
    async with _admin(settings) as admin:
        described = await admin.describe_topics([topic])
    return [p["leader"] for t in described for p in t["partitions"]]


async def all_event_ids(settings: ServiceSettings, topic: str) -> list[str]:
    """The event id of every record on the events topic, duplicates included (the engine's own log reader)."""
    reader = LogReader(settings.kafka_bootstrap_servers, topic, security=settings.kafka_security)
    await reader.start()
    ids: list[str] = []
    try:
        for partition in reader.partitions:
            while records := await reader.read(partition):
                ids += [decode(r.value).event_id for r in records]
    finally:
        await reader.stop()
    return ids


async def ping_refused(settings: ServiceSettings) -> None:
    with pytest.raises(Exception, match="bootstrap"):  # aiokafka: SaslAuthenticationFailed on every broker
        await ping(settings.kafka_bootstrap_servers, 5, security=settings.kafka_security)
