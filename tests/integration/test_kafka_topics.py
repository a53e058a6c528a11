"""Topic creation reports what the broker refused; scratch topics can be deleted again."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka import delete_topics, ensure_topics
from services.common.settings import ServiceSettings
from tests.stack import unique


async def _existing(bootstrap_servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_topic_the_broker_refuses_raises_naming_the_topic_and_the_reason(settings: ServiceSettings) -> None:
    name = unique("refused")
    with pytest.raises(RuntimeError, match=f"{name}: InvalidPartitionsError"):
        await ensure_topics(settings.kafka_bootstrap_servers, [name], partitions=0)


async def test_created_topics_are_deleted_again(settings: ServiceSettings) -> None:
    names = [unique("scratch"), unique("scratch")]
    assert await ensure_topics(settings.kafka_bootstrap_servers, names, partitions=2) == names
    assert set(names) <= await _existing(settings.kafka_bootstrap_servers)
    await delete_topics(settings.kafka_bootstrap_servers, [*names, unique("never-created")])
    assert not set(names) & await _existing(settings.kafka_bootstrap_servers)
