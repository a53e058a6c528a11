"""How requests in flight share Kafka batches: one batch per partition for the requests of one turn of the event
loop (the first request to an idle partition alone), handed over in order, each request waiting on exactly the
batches that hold its records. The producer here
is a stand-in that records what it is handed (the real broker is in tests/integration/ingest)."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from aiokafka.producer.message_accumulator import BatchBuilder

from services.ingest.adapters.partition_batches import PartitionBatches


class RecordingBatch(BatchBuilder):
    def __init__(self, batch_size: int) -> None:
        super().__init__(batch_size, 0)  # 0: no compression
        self.values: list[bytes] = []

    def append(self, *, timestamp: float | None, key: bytes | None, value: bytes | None, headers: object = None):
        added = super().append(timestamp=timestamp, key=key, value=value)
        if added is not None and value is not None:
            self.values.append(value)
        return added


class Producer:
    """Hands each batch's acknowledgement to the test; `room` (when set) holds send_batch as a full queue does."""

    def __init__(self, batch_size: int = 16_384) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[int, list[bytes], bool]] = []  # partition, values, closed when handed over
        self.acks: list[asyncio.Future[None]] = []
        self.refuse: Exception | None = None
        self.room: asyncio.Event | None = None

    def create_batch(self) -> RecordingBatch:
        return RecordingBatch(self.batch_size)

    async def send_batch(self, batch: RecordingBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        if self.room is not None:
            await self.room.wait()
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((partition, batch.values, batch.closed()))
        ack = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack

    def acknowledge_all(self) -> None:
        for ack in self.acks:
            if not ack.done():
                ack.set_result(None)


async def turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def records(partition: int, *values: str) -> list[tuple[int, bytes, bytes]]:
    return [(partition, b"key", v.encode()) for v in values]


async def test_requests_of_one_turn_share_one_closed_batch_per_partition_handed_over_without_a_timer() -> None:
    producer = Producer()
    batches = PartitionBatches(producer, "events")
    first = batches.append(records(0, "a1") + records(1, "a2"))
    second = batches.append(records(0, "b1"))
    third = batches.append(records(0, "c1") + records(1, "c2"))
    assert second & third, "the requests after the first share the next batch of partition 0"
    assert not first & (second | third), "the first request to an idle partition has its batches to itself"
    await turns()
    assert [values for partition, values, _ in producer.sent if partition == 0] == [[b"a1"], [b"b1", b"c1"]]
    assert [values for partition, values, _ in producer.sent if partition == 1] == [[b"a2"], [b"c2"]]
    assert all(closed for _, _, closed in producer.sent)
    producer.acknowledge_all()
    await asyncio.wait(first | second | third)
    assert all(outcome.exception() is None for outcome in first | second | third)


async def test_a_request_to_a_partition_with_a_batch_on_its_way_joins_the_open_batch() -> None:
    producer = Producer()
    producer.room = asyncio.Event()  # the first batch waits in the sender, as behind a batch in flight
    batches = PartitionBatches(producer, "events")
    first = batches.append(records(0, "a"))
    await turns()
    second = batches.append(records(0, "b"))
    third = batches.append(records(0, "c"))
    assert second == third, "behind a batch on its way, requests share the open batch"
    producer.room.set()
    await turns(10)
    assert [values for _, values, _ in producer.sent] == [[b"a"], [b"b", b"c"]]
    producer.acknowledge_all()
    await asyncio.wait(first | second)


async def test_a_failed_batch_fails_only_the_requests_with_records_in_it() -> None:
    producer = Producer()
    batches = PartitionBatches(producer, "events")
    in_both = batches.append(records(0, "a") + records(1, "b"))
    only_in_1 = batches.append(records(1, "c"))
    await turns()
    [ack_0] = [ack for (partition, _, _), ack in zip(producer.sent, producer.acks, strict=True) if partition == 0]
    ack_0.set_exception(KafkaConnectionError())
    producer.acknowledge_all()
    await asyncio.wait(in_both | only_in_1)
    assert [type(o.exception()) for o in in_both if o.exception()] == [KafkaConnectionError]
    assert all(o.exception() is None for o in only_in_1)


async def test_a_partitions_records_keep_their_order_across_full_batches_and_batches_waiting_for_room() -> None:
    producer = Producer(batch_size=512)  # a handful of 60-byte records per batch
    producer.room = asyncio.Event()  # the producer's queue for the partition is full at first
    batches = PartitionBatches(producer, "events")
    values = [f"{i:03d}".ljust(60, "-") for i in range(40)]
    waits = batches.append(records(3, *values[:25]))
    await turns()
    waits |= batches.append(records(3, *values[25:]))  # while the sender waits for room
    await turns()
    producer.room.set()
    await turns(20)
    assert len(producer.sent) > 2
    assert [v.decode() for _, sent, _ in producer.sent for v in sent] == values
    producer.acknowledge_all()
    await asyncio.wait(waits)
    assert all(o.exception() is None for o in waits)


async def test_a_batch_the_producer_refuses_fails_its_requests_and_the_next_batch_still_goes() -> None:
    producer = Producer()
    producer.refuse = KafkaTimeoutError()  # no room in time
    batches = PartitionBatches(producer, "events")
    refused = batches.append(records(0, "a"))
    await asyncio.wait(refused)
    assert [type(o.exception()) for o in refused] == [KafkaTimeoutError]
    producer.refuse = None
    later = batches.append(records(0, "b"))
    await turns()
    producer.acknowledge_all()
    await asyncio.wait(later)
    assert producer.sent == [(0, [b"b"], True)]


async def test_hand_over_gives_the_producer_every_open_batch_before_it_stops() -> None:
    producer = Producer()
    batches = PartitionBatches(producer, "events")
    batches.append(records(0, "a") + records(5, "b"))
    await batches.hand_over()
    assert sorted(producer.sent) == [(0, [b"a"], True), (5, [b"b"], True)]
