"""The outbox's record bytes and partitions: the same partition as aiokafka's default partitioner, valid JSON."""

from __future__ import annotations

import orjson
from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.stage_engine.adapters import lead_event_records


@given(st.binary(max_size=200))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert lead_event_records.murmur2(key) == murmur2(key)


@given(st.text(min_size=1, max_size=60), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_default_partitioners_partition(lead_id: str, partitions: int) -> None:
    every = list(range(partitions))
    key = lead_id.encode()
    assert lead_event_records.partition_of(key, partitions) == DefaultPartitioner()(key, every, every)


@given(
    st.integers(min_value=1, max_value=2**62),
    st.text(max_size=40),
    st.integers(min_value=1, max_value=2**31 - 1),
    st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.text(max_size=20), st.none()),
        max_size=5,
    ),
)
def test_the_record_is_the_published_shape_with_the_stored_event_spliced_in(
    position: int, lead_id: str, version: int, event: dict[str, object]
) -> None:
    value = lead_event_records.record_value(position, lead_id, version, orjson.dumps(event).decode())
    assert orjson.loads(value) == {"position": position, "lead_id": lead_id, "version": version, "event": event}
