"""The Kafka side of the data stored before sealing: a copy of the events topic in which every record written
before the door sealed personal fields is sealed as the door seals them, everything else byte for byte, in the
same partitions and order; run again, it copies only what is new."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event, decode, encode
from services.common.kafka import delete_topics, durable_producer, ensure_topics
from services.common.personal.person_keys import PersonKeys, data_keys
from services.common.personal.sealed_event import opened_properties
from services.ingest.adapters.topic_copy import TopicCopy
from services.ingest.app.sealer import Sealer
from services.ingest.app.settings import IngestSettings
from services.ingest.app.topic_rewrite import rewrite
from tests.stack import consume, unique

AT = datetime(2026, 3, 1, tzinfo=UTC)


def old(event_id: str, type: str, anon: str | None, lead: str | None, **props: object) -> Event:
    return Event(event_id, type, AT, "web", AT, anonymous_id=anon, lead_id=lead, properties=props)


OLD = [
    old("o1", "page_viewed", "a1", None, path="/pricing"),
    old("o2", "form_submitted", "a1", None, form_id="f", email="hanako@example.jp", phone="090-1111-2222"),
    old("o3", "lead_accepted", None, "L1", owner="sales-1"),
    old("o4", "identified", "a1", "L1", email="hanako@example.jp", traits={"name": "Hanako Yamada"}),
]


async def produce(settings: IngestSettings, events: Sequence[Event]) -> None:
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(settings.events_topic, encode(event), key=event.partition_key.encode())
    finally:
        await producer.stop()


@pytest.fixture
async def target(ingest_settings: IngestSettings) -> AsyncIterator[str]:
    name = unique("copy")
    await ensure_topics(ingest_settings.kafka_bootstrap_servers, [name], ingest_settings.topic_partitions)
    yield name
    await delete_topics(ingest_settings.kafka_bootstrap_servers, [name])


async def copied(settings: IngestSettings, engine: AsyncEngine, target: str) -> int:
    copy = TopicCopy(settings.kafka_bootstrap_servers, settings.events_topic, target)
    try:
        return await rewrite(copy, Sealer(PersonKeys(engine, settings.master, 0), settings.hash_key))
    finally:
        await copy.stop()


def by_partition(records: Sequence[ConsumerRecord]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        found.setdefault(r.partition, []).append(decode(r.value).event_id)
    return found


async def test_old_records_are_sealed_in_a_copy_that_keeps_partitions_and_order(
    ingest_settings: IngestSettings, engine: AsyncEngine, target: str
) -> None:
    await produce(ingest_settings, OLD)
    assert await copied(ingest_settings, engine, target) == 4
    source = await consume(ingest_settings, ingest_settings.events_topic, 4, within=10)
    copy = await consume(ingest_settings, target, 4, within=10)
    assert by_partition(copy) == by_partition(source)
    assert {r.timestamp for r in copy} == {r.timestamp for r in source}
    for record in copy:
        for secret in (b"hanako", b"1111-2222", b"Yamada"):
            assert secret not in record.value
    events = {e.event_id: e for e in (decode(r.value) for r in copy)}
    originals = {r.value for r in source if decode(r.value).event_id in ("o1", "o3")}
    assert {r.value for r in copy if decode(r.value).event_id in ("o1", "o3")} == originals  # nothing personal
    assert events["o2"].email_hash == events["o4"].email_hash is not None
    assert events["o2"].sealed is not None and events["o4"].sealed is not None
    async with engine.connect() as conn:
        keys = await data_keys(conn, ingest_settings.master, [events["o2"].sealed["key"]])
    assert opened_properties(events["o2"], keys)[0] == dict(OLD[1].properties)
    assert events["o2"].sealed["key"] == events["o4"].sealed["key"]  # one person, one key

    assert await copied(ingest_settings, engine, target) == 0  # resumed: nothing new
    await produce(ingest_settings, [old("o5", "page_viewed", "a9", None, path="/")])
    assert await copied(ingest_settings, engine, target) == 1
