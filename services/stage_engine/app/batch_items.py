"""A consumed batch as the processor sees it: each record with its envelope, or why it is not one, in log order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from services.common.envelope import EnvelopeError, Event, decode
from services.stage_engine.adapters.store import TopicPartition

# Envelopes decoded or applied between two turns of the event loop (~50 µs each: a turn about every ms). The
# batch in front's replies and its commit wait for a turn: they are the serial part of the pipeline.
YIELD_EVERY = 16


@dataclass(slots=True)  # not frozen: a frozen dataclass is built ~3 times slower, and there is one per record
class Item:
    record: ConsumerRecord
    event: Event | None  # None: the record is not an envelope (`unreadable` says why)
    unreadable: str = ""

    @property
    def place(self) -> str:
        """The record's place in the log. A record set aside is claimed by it, not by its event id: a re-read
        (after a crash or a rebalance) does not set it aside twice, and a redrive of it is stored."""
        return f"kafka:{self.record.topic}/{self.record.partition}/{self.record.offset}"

    @property
    def origin(self) -> tuple[str, int, int]:
        return self.record.topic, self.record.partition, self.record.offset


async def read_items(records: Sequence[ConsumerRecord]) -> list[Item]:
    items: list[Item] = []
    for n, record in enumerate(records, 1):
        try:
            items.append(Item(record, decode(record.value)))
        except EnvelopeError as exc:
            items.append(Item(record, None, str(exc)))
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # the batch in flight beside this one waits for its replies to be read
    return items


def next_offsets(items: Sequence[Item]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last record: what the transaction that stores them commits."""
    offsets: dict[TopicPartition, int] = {}
    for item in items:
        offsets[(item.record.topic, item.record.partition)] = item.record.offset + 1
    return offsets
