"""The bytes of one stagetrack.lead-events record, and the partition Kafka's default partitioner gives its key.

The outbox builds every record here, so these run once per published row: the stored jsonb is spliced in
as PostgreSQL prints it (`data::text`) instead of being decoded and re-encoded, and the partition comes from
a murmur2 that reads the key a word at a time (aiokafka's reads it byte by byte), cached per lead.
"""

from __future__ import annotations

import struct
from functools import lru_cache

import orjson

_M = 0x5BD1E995  # murmur2's mixing constant (Kafka's Utils.murmur2)
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def record_value(position: int, lead_id: str, version: int, event_json: str) -> bytes:
    """`{"position", "lead_id", "version", "event"}` with `event_json` (a JSON object's text) as the event."""
    return b'{"position":%d,"lead_id":%b,"version":%d,"event":%b}' % (
        position,
        orjson.dumps(lead_id),
        version,
        event_json.encode(),
    )


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's Utils.murmur2, aiokafka's `partitioner.murmur2`), as an unsigned int."""
    length = len(data)
    h = _SEED ^ length
    for k in struct.unpack_from(f"<{length // 4}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail, extra = length & ~3, length & 3
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h = ((h ^ data[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


@lru_cache(maxsize=8192)  # bounded: a lead's events come in runs; memory must not grow with the leads
def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's DefaultPartitioner picks for `key` among partitions 0..partitions-1."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
