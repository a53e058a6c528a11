"""Accepted means durable: with the broker stopped mid-stream, every event answered 2xx is in Kafka,
the others were answered 503 with Retry-After, and the ingest recovers without a restart."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson

from tests.integration.ingest.conftest import Ingest
from tests.integration.ingest.test_bad_input import page
from tests.stack import REPO, consume

KAFKA = str(REPO / "deploy" / "local" / "kafka.sh")


async def _kafka(action: str) -> None:
    proc = await asyncio.create_subprocess_exec(KAFKA, action, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 0, f"kafka.sh {action} failed: {err.decode()}"


async def test_broker_outage_loses_nothing_that_was_acknowledged(ingest: Ingest) -> None:
    acknowledged: list[str] = []
    refused = 0

    async def send_one() -> int:
        nonlocal refused
        events = [page(event_id=str(uuid.uuid4()), anonymous_id=f"a-{i}") for i in range(10)]
        response = await ingest.client.post("/v1/events", json={"events": events})
        assert response.status_code in (202, 503), response.text
        if response.status_code == 202:
            acknowledged.extend(e["event_id"] for e in events)
        else:
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["errors"][0]["field"] in ("kafka", "request")
            refused += 1
        return response.status_code

    for _ in range(20):
        assert await send_one() == 202

    stopping = asyncio.create_task(_kafka("stop"))
    try:
        while not stopping.done():  # requests keep arriving while the broker shuts down
            await send_one()
        await stopping
        for _ in range(3):
            assert await send_one() == 503
    finally:
        await _kafka("start")

    deadline = time.monotonic() + 60
    while await send_one() != 202:
        assert time.monotonic() < deadline, "the ingest did not recover within 60 s of the broker's return"
    for _ in range(10):
        assert await send_one() == 202

    assert refused >= 3
    records = await consume(ingest.settings, ingest.settings.events_topic, len(acknowledged), within=60)
    stored = {orjson.loads(r.value)["event_id"] for r in records}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"
