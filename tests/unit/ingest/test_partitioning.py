"""The publisher picks each record's partition itself (its hash cached): always the one aiokafka would pick."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.adapters.publisher import partition_for


@given(key=st.text(min_size=1, max_size=128), count=st.integers(min_value=1, max_value=300))
def test_the_partition_is_the_default_partitioners(key: str, count: int) -> None:
    partitions = list(set(range(count)))  # as aiokafka lists a topic's partitions: list() of the metadata's set
    raw = key.encode()
    assert partition_for(raw, partitions) == DefaultPartitioner()(raw, partitions, partitions)
    assert partition_for(raw, partitions) == partition_for(raw, partitions)  # cached, same answer
