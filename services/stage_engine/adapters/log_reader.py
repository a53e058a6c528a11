"""Reads a topic (stagetrack.events, the dead-letter topic) from its beginning to the end offsets captured at start,
partition by partition.

A throwaway consumer: no group (nothing is committed; the live engine's group and offsets are untouched), every
partition assigned by hand, read_committed like the engine. The end is fixed when the reader starts, so records
appended while a replay runs are left for the next replay.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka import security_options
from services.common.kafka_security import PLAINTEXT, KafkaSecurity


class LogReader:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        fetch_records: int = 500,
        client_id: str = "stagetrack-replay",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._security = security
        self._topic = topic
        self._fetch_records = fetch_records
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            client_id=client_id,
            **security_options(security),
        )
        self.begin: dict[int, int] = {}  # partition -> first offset still in the log
        self.end: dict[int, int] = {}  # partition -> offset after the last record when the reader started
        self._done: set[int] = set()

    @property
    def partitions(self) -> list[int]:
        return sorted(self.end)

    @property
    def total(self) -> int:
        """Offsets to read (an upper bound on records: transaction markers take offsets too)."""
        return sum(self.end[p] - self.begin[p] for p in self.end)

    async def start(self) -> None:
        await self._consumer.start()
        tps = [TopicPartition(self._topic, p) for p in await self._partition_ids()]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self.begin = {tp.partition: o for tp, o in (await self._consumer.beginning_offsets(tps)).items()}
        self.end = {tp.partition: o for tp, o in (await self._consumer.end_offsets(tps)).items()}
        self._done = {p for p in self.end if self.end[p] <= self.begin[p]}

    async def stop(self) -> None:
        await self._consumer.stop()

    def exhausted(self, partition: int) -> bool:
        return partition in self._done

    async def read(self, partition: int) -> list[ConsumerRecord]:
        """The next records of one partition, in offset order; [] once the captured end is reached."""
        tp = TopicPartition(self._topic, partition)
        while partition not in self._done:
            fetched = await self._consumer.getmany(tp, timeout_ms=1000, max_records=self._fetch_records)
            records = [r for r in fetched.get(tp, []) if r.offset < self.end[partition]]
            if await self._consumer.position(tp) >= self.end[partition]:
                self._done.add(partition)
            if records:
                return records
        return []

    async def _partition_ids(self) -> list[int]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap_servers, request_timeout_ms=10_000, **security_options(self._security)
        )
        await admin.start()
        try:
            described = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        ids = sorted(p["partition"] for t in described if t["topic"] == self._topic for p in t["partitions"])
        if not ids:
            raise LookupError(f"topic {self._topic!r} does not exist or has no partitions")
        return ids
