"""The consumer takes records only from partitions it has sought to their stored offsets, and never twice."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition

from services.stage_engine.adapters.consumer import SeekToStoredOffsets

P0, P1 = TopicPartition("events", 0), TopicPartition("events", 1)


def records(tp: TopicPartition, *offsets: int) -> list[ConsumerRecord]:
    return [ConsumerRecord(tp.topic, tp.partition, o, 0, 0, b"k", b"v", None, 1, 1, []) for o in offsets]


def offsets(taken: list[ConsumerRecord]) -> list[tuple[int, int]]:
    return [(r.partition, r.offset) for r in taken]


def listener() -> SeekToStoredOffsets:
    return SeekToStoredOffsets(None, None, "group", None)  # type: ignore[arg-type]  # only `take` is used


def test_nothing_is_taken_from_a_partition_not_sought_yet() -> None:
    seeking = listener()
    seeking.next_offsets[P1] = 0
    assert offsets(seeking.take({P0: records(P0, 0, 1), P1: records(P1, 0)})) == [(1, 0)]


def test_what_was_fetched_before_the_seek_is_not_taken_twice() -> None:
    seeking = listener()
    seeking.next_offsets[P0] = 100  # sought to the stored offset
    assert offsets(seeking.take({P0: records(P0, 0, 1, 2)})) == []  # fetched from the log's start meanwhile
    assert offsets(seeking.take({P0: records(P0, 100, 101)})) == [(0, 100), (0, 101)]
    assert offsets(seeking.take({P0: records(P0, 100, 101, 103)})) == [(0, 103)]  # a gap: a transaction marker
    assert seeking.next_offsets[P0] == 104
