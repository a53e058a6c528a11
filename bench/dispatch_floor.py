"""The floor of bench_dispatch: a bare aiokafka consumer of stagetrack.lead-events that posts every record, as it
is, to the receiver; no decoding, no subscriptions, no database, no signature. Run as a process of its own (like
the dispatcher it stands in for):

    python -m bench.dispatch_floor BOOTSTRAP_SERVERS TOPIC RECEIVER_URL
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer


async def forward(bootstrap_servers: str, topic: str, url: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"floor-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        # No timeout: a post waits for a connection of the pool however long (the floor must not drop records).
        async with httpx.AsyncClient(limits=limits, timeout=None) as client:
            while True:
                fetched = await consumer.getmany(timeout_ms=500)
                records = [r for batch in fetched.values() for r in batch]
                await asyncio.gather(
                    *(client.post(url, content=r.value, headers={"content-type": "application/json"}) for r in records)
                )
    finally:
        await consumer.stop()


if __name__ == "__main__":
    uvloop.run(forward(*sys.argv[1:4]))
