"""Kafka stopped with requests in flight (a private broker of this test's own, never the shared one): every event
answered 2xx is in Kafka, the others were answered 503 with Retry-After and a reason that says what happened and
how long the ingest waited, the ingest's log grows by a bounded number of lines, and the ingest recovers without
a restart once the broker is back."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from services.common.kafka import ensure_topics
from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.faults import PrivateKafka, private_kafka
from tests.integration.ingest.test_bad_input import page
from tests.stack import consume, served

SEND_TIMEOUT = 3
OUTAGE_SECONDS = 8
MAX_LOG_LINES = 50  # for the whole outage; aiokafka alone wrote thousands a second, unfiltered
WAITED = re.compile(r"^(Kafka is unreachable|the Kafka producer failed) \(\w+ after (\d+\.\d+) s\)")


@pytest.fixture
async def kafka(stack: None, tmp_path: Path) -> AsyncIterator[PrivateKafka]:
    async with private_kafka(tmp_path / "kafka") as broker:
        yield broker


class Client:
    """Posts batches of 10 page views; remembers what was acknowledged and checks every 503."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.acknowledged: list[str] = []
        self.reasons: list[str] = []

    async def send(self) -> int:
        events = [page(event_id=str(uuid.uuid4()), anonymous_id=f"a-{i}") for i in range(10)]
        started = time.monotonic()
        response = await self.http.post("/v1/events", json={"events": events})
        took = time.monotonic() - started
        assert response.status_code in (202, 503), response.text
        if response.status_code == 202:
            self.acknowledged.extend(e["event_id"] for e in events)
            return 202
        assert int(response.headers["retry-after"]) > 0
        [error] = response.json()["errors"]
        assert error["field"] == "kafka", error
        _assert_truthful(error["reason"], took)
        self.reasons.append(error["reason"])
        return 503


def _assert_truthful(reason: str, took: float) -> None:
    """A reason names a wait no longer than the answer took: 'within 3 s' only after 3 s or more."""
    if reason.startswith(f"Kafka did not acknowledge within {SEND_TIMEOUT} s"):
        assert took >= SEND_TIMEOUT, f"{reason!r} answered after {took:.3f} s"
        return
    waited = WAITED.match(reason)
    assert waited, f"the reason does not say what happened: {reason!r}"
    assert float(waited.group(2)) <= took + 0.01, f"{reason!r} answered after {took:.3f} s"


async def test_broker_outage_loses_nothing_acknowledged_says_why_and_logs_a_bounded_number_of_lines(
    kafka: PrivateKafka, ingest_settings: IngestSettings, key_store: KeyStore, tmp_path: Path
) -> None:
    settings = ingest_settings.model_copy(update={"kafka_bootstrap_servers": kafka.bootstrap_servers})
    await ensure_topics(kafka.bootstrap_servers, settings.topics, settings.topic_partitions)
    key = await key_store.create("outage")
    log = tmp_path / "ingest.log"
    timeout_env = {"STAGETRACK_KAFKA_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT)}
    async with (
        served("ingest", settings, log, **timeout_env) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
    ):
        client = Client(http)
        for _ in range(10):
            assert await client.send() == 202

        lines_before = len(log.read_text().splitlines())
        stopping = asyncio.create_task(kafka.stop())

        async def keep_sending() -> None:  # four clients, requests in flight as the broker goes
            while True:
                await client.send()

        senders = [asyncio.create_task(keep_sending()) for _ in range(4)]
        try:
            await stopping
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself is what is measured here
            assert all(not s.done() for s in senders), [s.exception() for s in senders if s.done()]
        finally:
            for sender in senders:
                sender.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
        outage_log = log.read_text().splitlines()[lines_before:]
        assert len(outage_log) < MAX_LOG_LINES, f"{len(outage_log)} lines:\n" + "\n".join(outage_log[:80])
        assert any(r.startswith("Kafka is unreachable") for r in client.reasons), set(client.reasons)

        await kafka.start()
        deadline = time.monotonic() + 60
        while await client.send() != 202:
            assert time.monotonic() < deadline, "the ingest did not recover within 60 s of the broker's return"
        for _ in range(10):
            assert await client.send() == 202

    records = await consume(settings, settings.events_topic, len(client.acknowledged), within=60)
    stored = {orjson.loads(r.value)["event_id"] for r in records}
    missing = set(client.acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"
