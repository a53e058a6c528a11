"""The real broker carries records through the durable producer settings the services use."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from services.common.kafka import durable_producer
from services.common.settings import ServiceSettings
from tests.stack import unique


async def test_records_produced_with_acks_all_are_consumed_in_order_per_key(
    settings: ServiceSettings, topics: list[str]
) -> None:
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        sent = [(f"lead-{i % 3}".encode(), f"event-{i}".encode()) for i in range(30)]
        for key, value in sent:
            await producer.send_and_wait(settings.events_topic, value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        settings.events_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=unique("group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        received: list[tuple[bytes, bytes]] = []
        while len(received) < len(sent):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {len(received)} of {len(sent)} records arrived"
            for records in batch.values():
                received += [(r.key, r.value) for r in records if r.key and r.value]
    finally:
        await consumer.stop()

    assert sorted(received) == sorted(sent)
    for key in {k for k, _ in sent}:  # one key, one partition: order is kept
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]
