"""The engine's real backlog: per partition it consumes, the log's end offset minus the offset committed with the
store in PostgreSQL (a fresh group: minus the log's start). Measured every few seconds by a task of its own, so
it keeps growing while a batch is stuck (a lock held, a database refusing); it feeds the stall check of the
consumer loop (`LoopHealth`) and the gauge:

    stagetrack_engine_consumer_lag 1441.0
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from services.common.loop_health import ThrottledLog
from services.stage_engine.adapters.store import EventStore

log = logging.getLogger(__name__)
REFRESH_SECONDS = 2.0
KAFKA_TIMEOUT_SECONDS = 10.0


class Backlog:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: EventStore,
        group_id: str,
        registry: CollectorRegistry,
        failure_log_interval_seconds: float,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._group_id = group_id
        self._failures = ThrottledLog(log, failure_log_interval_seconds)
        self.per_partition: dict[TopicPartition, int] = {}
        Gauge(
            "stagetrack_engine_consumer_lag",
            "Records on stagetrack.events not yet stored: log end offsets minus the offsets committed with the "
            "store, summed over this engine's partitions",
            registry=registry,
        ).set_function(self.total)

    def total(self) -> float:
        return float(sum(self.per_partition.values()))

    async def watch(self, every_seconds: float = REFRESH_SECONDS) -> None:
        """Measures until cancelled; a measurement that fails keeps the last figures (and is logged, throttled)."""
        while True:
            try:
                await self.measure()
                self._failures.recovered()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures.failure("could not measure the engine's backlog", exc)
            await asyncio.sleep(every_seconds)

    async def measure(self) -> None:
        assigned = sorted(self._consumer.assignment())
        if not assigned:
            self.per_partition = {}
            return
        ends = await asyncio.wait_for(self._consumer.end_offsets(assigned), KAFKA_TIMEOUT_SECONDS)
        stored = await self._store.offsets(self._group_id, [(tp.topic, tp.partition) for tp in assigned])
        fresh = [tp for tp in assigned if (tp.topic, tp.partition) not in stored]
        starts = await asyncio.wait_for(self._consumer.beginning_offsets(fresh), KAFKA_TIMEOUT_SECONDS) if fresh else {}
        self.per_partition = {
            tp: max(0, ends[tp] - stored.get((tp.topic, tp.partition), starts.get(tp, 0))) for tp in assigned
        }
