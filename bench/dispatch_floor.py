"""The floor of bench_dispatch: a bare aiokafka consumer of stagetrack.lead-events that posts every record, as it
is, to the receiver; no decoding, no subscriptions, no database, no signature. Run as a process of its own (like
the dispatcher it stands in for):

    python -m bench.dispatch_floor BOOTSTRAP_SERVERS TOPIC RECEIVER_URL
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import aiohttp
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
    connector = aiohttp.TCPConnector(limit=64)  # kept-alive connections, reused across posts
    headers = {"content-type": "application/json"}
    try:
        # No timeout: a post waits for a connection of the pool however long (the floor must not drop records).
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as client:

            async def post(body: bytes | None) -> None:
                async with client.post(url, data=body or b"", headers=headers) as response:
                    await response.read()

            while True:
                fetched = await consumer.getmany(timeout_ms=500)
                await asyncio.gather(*(post(r.value) for batch in fetched.values() for r in batch))
    finally:
        await consumer.stop()


if __name__ == "__main__":
    uvloop.run(forward(*sys.argv[1:4]))
