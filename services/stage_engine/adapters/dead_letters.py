"""The dead-letter topic: an event the engine cannot process goes here with the reason; its partition moves on."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from services.common.kafka import durable_producer


class DeadLetters:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._producer: AIOKafkaProducer = durable_producer(bootstrap_servers, client_id="stagetrack-engine-dlq")
        self._topic = topic
        self._started = False

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()

    async def send(self, value: bytes, key: bytes | None, reason: str, origin: tuple[str, int, int]) -> None:
        """Awaited before the batch commits, so a dead letter is never lost (it may repeat if the commit fails)."""
        topic, partition, offset = origin
        headers = [
            ("reason", reason.encode()[:4000]),
            ("origin", f"{topic}/{partition}/{offset}".encode()),
        ]
        if not self._started:  # started on first use: most batches have no dead letter
            await self._producer.start()
            self._started = True
        await self._producer.send_and_wait(self._topic, value, key=key, headers=headers)
