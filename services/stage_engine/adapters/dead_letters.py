"""The dead-letter topic: a record the engine cannot process goes here with the reason; its partition moves on.

Each dead letter is the original record (value and key) with headers: `reason` (why: the decoder's, the
domain's or the database's error), `origin` (`topic/partition/offset` it was taken from) and, when the record
was an envelope, `event_id`. `app/dead_letter_admin.py` lists them and redrives them to the events topic."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from services.common.kafka import durable_producer
from services.common.kafka_security import PLAINTEXT, KafkaSecurity


class DeadLetters:
    def __init__(self, bootstrap_servers: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self._producer: AIOKafkaProducer = durable_producer(
            bootstrap_servers, security=security, client_id="stagetrack-engine-dlq"
        )
        self._topic = topic
        self._started = False

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()

    async def send(
        self, value: bytes, key: bytes | None, reason: str, origin: tuple[str, int, int], event_id: str | None = None
    ) -> None:
        """Awaited before the batch commits, so a dead letter is never lost (it may repeat if the commit fails)."""
        topic, partition, offset = origin
        headers = [
            ("reason", reason.encode(errors="backslashreplace")[:4000]),
            ("origin", f"{topic}/{partition}/{offset}".encode()),
        ]
        if event_id is not None:
            headers.append(("event_id", event_id.encode(errors="backslashreplace")))
        if not self._started:  # started on first use: most batches have no dead letter
            await self._producer.start()
            self._started = True
        await self._producer.send_and_wait(self._topic, value, key=key, headers=headers)
