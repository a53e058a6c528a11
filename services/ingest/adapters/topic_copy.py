"""A copy of a topic, partition by partition, record by record, into another topic with as many partitions: the
same key, timestamp and headers, in the same partition and order. It resumes: the target's records per partition
say how many of the source's were copied (the events topic is written without transactions, so its offsets are
contiguous and the n-th record copied is the source's n-th)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka import durable_producer, security_options
from services.common.kafka_security import PLAINTEXT, KafkaSecurity

Record = tuple[bytes | None, bytes | None, int, Sequence[tuple[str, bytes]]]  # key, value, timestamp ms, headers


class TopicCopy:
    def __init__(self, bootstrap_servers: str, source: str, target: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self._source, self._target = source, target
        self._bootstrap_servers, self._security = bootstrap_servers, security
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            client_id="stagetrack-topic-copy",
            **security_options(security),
        )
        self._producer = durable_producer(bootstrap_servers, security=security)
        self.end: dict[int, int] = {}

    async def start(self) -> list[int]:
        """The source's partitions; raises when the target has not as many."""
        await self._consumer.start()
        await self._producer.start()
        partitions, target = await self._partitions(self._source), await self._partitions(self._target)
        if not partitions:
            raise ValueError(f"no topic {self._source}")
        if len(target) != len(partitions):
            raise ValueError(f"{self._target} has {len(target)} partitions, {self._source} {len(partitions)}")
        # every partition assigned from the start (aiokafka's stop() hangs on a consumer never assigned any)
        self._consumer.assign([TopicPartition(self._source, p) for p in partitions])
        return partitions

    async def _partitions(self, topic: str) -> list[int]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap_servers, request_timeout_ms=10_000, **security_options(self._security)
        )
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return sorted(p["partition"] for t in described if t["topic"] == topic for p in t.get("partitions") or ())

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._producer.stop()

    async def remaining(self, partition: int, fetch: int = 500) -> AsyncIterator[list[ConsumerRecord]]:
        """The source's records of `partition` not copied yet, up to its end now, a fetch at a time."""
        source, target = TopicPartition(self._source, partition), TopicPartition(self._target, partition)
        (begin,), (end,) = (
            (await self._consumer.beginning_offsets([source])).values(),
            (await self._consumer.end_offsets([source])).values(),
        )
        copied = (await self._consumer.end_offsets([target]))[target] - (
            await self._consumer.beginning_offsets([target])
        )[target]
        following = begin + copied
        if following >= end:
            return
        self._consumer.seek(source, following)
        while following < end:
            fetched = await self._consumer.getmany(source, timeout_ms=1000, max_records=fetch)
            if records := [r for r in fetched.get(source, []) if r.offset < end]:
                following = records[-1].offset + 1
                yield records
            elif await self._consumer.position(source) >= end:  # only markers were left
                return

    async def write(self, partition: int, records: Sequence[Record]) -> None:
        """Acknowledged before it returns, so a stop never leaves a gap."""
        futures = [
            await self._producer.send(
                self._target, value, key=key, partition=partition, timestamp_ms=ts, headers=list(headers)
            )
            for key, value, ts, headers in records
        ]
        for future in futures:
            await future
