"""The order a replay applies the log in: each partition in offset order, partitions interleaved as live did.

Kafka orders records within a partition only. A lead can span two partitions (its anonymous id's, then its
CRM id's), and the live engine interleaved partitions in whatever order its fetches returned, so a second
reading of the log cannot know that interleaving from Kafka alone. The live store does know it: the first
position of an envelope's domain events is when live applied it. So every record is ranked by that position;
a record live never stored anything for (a duplicate, a dead letter, an event no rule names, one live has
not reached yet) keeps the rank of the record before it in its partition, i.e. it goes right after it.
Ties, and a log with no live store at all, fall back to the record's Kafka timestamp. Partitions are merged
head by head (a k-way merge), so the per-partition order always holds and memory stays one fetch per partition.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from aiokafka import ConsumerRecord

from services.stage_engine.adapters.log_reader import LogReader

LivePositions = Callable[[list[str]], Awaitable[dict[str, int]]]


def event_id_of(value: bytes | None) -> str | None:
    """The envelope's event_id, or None for a record that is not one (the processor dead-letters it)."""
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    found = data.get("event_id") if isinstance(data, dict) else None
    return str(found) if found is not None else None


async def interleaved(
    reader: LogReader, live_positions: LivePositions, batch_size: int
) -> AsyncIterator[list[ConsumerRecord]]:
    """Batches of up to `batch_size` records from every partition, in live's order of application."""
    queues: dict[int, deque[tuple[tuple[int, int], ConsumerRecord]]] = {p: deque() for p in reader.partitions}
    rank: dict[int, int] = dict.fromkeys(reader.partitions, 0)  # last live position seen per partition
    heads: list[tuple[tuple[int, int], int, int]] = []  # ((rank, timestamp), partition, offset)

    async def refill(partition: int) -> None:
        records = await reader.read(partition)
        ids = [event_id_of(r.value) for r in records]
        known = await live_positions(sorted({i for i in ids if i is not None}))
        for record, event_id in zip(records, ids, strict=True):
            position = known.get(event_id) if event_id is not None else None
            rank[partition] = max(rank[partition], position or 0)
            queues[partition].append(((rank[partition], record.timestamp), record))

    async def push_head(partition: int) -> None:
        if not queues[partition] and not reader.exhausted(partition):
            await refill(partition)
        if queues[partition]:
            key, record = queues[partition][0]
            heapq.heappush(heads, (key, partition, record.offset))

    for partition in reader.partitions:
        await push_head(partition)
    batch: list[ConsumerRecord] = []
    while heads:
        _, partition, _ = heapq.heappop(heads)
        batch.append(queues[partition].popleft()[1])
        await push_head(partition)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
