"""Requests in flight together share Kafka batches: nothing answered 2xx is lost or written twice, each visitor's
events keep the order its client sent them in, and a stop (SIGTERM) with requests in flight still delivers
every event it acknowledged."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import httpx
import orjson

from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.test_bad_input import page
from tests.stack import consume, eventually, served_process

CLIENTS = 12  # each sends its requests one after another; together they keep 12 in flight
REQUESTS_PER_CLIENT = 15
EVENTS_PER_REQUEST = 40
REQUESTS_BEFORE_THE_STOP = 100  # more than the clients send before the stop reaches them
VISITORS_PER_CLIENT = 5  # spread over the partitions, so every request touches several batches


def batch(client: int, request: int) -> list[dict[str, object]]:
    return [
        page(
            anonymous_id=f"c{client}-v{i % VISITORS_PER_CLIENT}",
            properties={"path": "/pricing", "seq": request * EVENTS_PER_REQUEST + i},
        )
        for i in range(EVENTS_PER_REQUEST)
    ]


async def send_all(
    http: httpx.AsyncClient, client: int, acknowledged: list[dict[str, object]], requests: int = REQUESTS_PER_CLIENT
) -> None:
    for request in range(requests):
        events = batch(client, request)
        response = await http.post("/v1/events", json={"events": events})
        if response.status_code != 202:  # the stop refused it: the client would retry it elsewhere
            return
        acknowledged.extend(events)


async def published(settings: IngestSettings, count: int) -> dict[str, list[int]]:
    """The seq numbers of each visitor's events, in the order Kafka holds them."""
    records = await consume(settings, settings.events_topic, count, within=60)
    by_visitor: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = orjson.loads(record.value)
        by_visitor[event["anonymous_id"]].append(event["properties"]["seq"])
    return by_visitor


def sent_in_order(acknowledged: list[dict[str, object]]) -> dict[str, list[int]]:
    by_visitor: dict[str, list[int]] = defaultdict(list)
    for event in acknowledged:
        by_visitor[str(event["anonymous_id"])].append(event["properties"]["seq"])  # type: ignore[index]
    return by_visitor


async def test_requests_in_flight_together_lose_nothing_repeat_nothing_and_keep_each_visitors_order(
    ingest_settings: IngestSettings, key_store: KeyStore, tmp_path: Path
) -> None:
    key = await key_store.create("web")
    acknowledged: list[dict[str, object]] = []
    async with (
        served_process("ingest", ingest_settings, tmp_path / "ingest.log") as (url, _),
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
    ):
        await asyncio.gather(*(send_all(http, c, acknowledged) for c in range(CLIENTS)))
    assert len(acknowledged) == CLIENTS * REQUESTS_PER_CLIENT * EVENTS_PER_REQUEST
    assert await published(ingest_settings, len(acknowledged)) == sent_in_order(acknowledged)


async def test_a_stop_with_requests_in_flight_delivers_every_event_it_acknowledged(
    ingest_settings: IngestSettings, key_store: KeyStore, tmp_path: Path
) -> None:
    key = await key_store.create("web")
    acknowledged: list[dict[str, object]] = []
    log = tmp_path / "ingest.log"
    async with (
        served_process("ingest", ingest_settings, log) as (url, process),
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
    ):
        clients = [asyncio.create_task(send_with_stop(http, c, acknowledged)) for c in range(CLIENTS)]

        async def under_way() -> bool:
            return len(acknowledged) >= CLIENTS * EVENTS_PER_REQUEST * 2

        await eventually(under_way, 30, "two requests of each client acknowledged")
        process.terminate()
        await asyncio.gather(*clients)
        await asyncio.to_thread(process.wait, 30)  # uvicorn ends by the signal it stopped for, after its shutdown
        assert "Application shutdown complete." in log.read_text(), log.read_text()[-2000:]
    assert 0 < len(acknowledged) < CLIENTS * REQUESTS_BEFORE_THE_STOP * EVENTS_PER_REQUEST, "stopped mid-way"
    kept = await published(ingest_settings, len(acknowledged))
    assert kept_in_kafka(kept, acknowledged) == sent_in_order(acknowledged)


async def send_with_stop(http: httpx.AsyncClient, client: int, acknowledged: list[dict[str, object]]) -> None:
    try:
        await send_all(http, client, acknowledged, REQUESTS_BEFORE_THE_STOP)
    except httpx.TransportError:  # the server closed: what it answered before is what counts
        return


def kept_in_kafka(kept: dict[str, list[int]], acknowledged: list[dict[str, object]]) -> dict[str, list[int]]:
    """Kafka may hold events of requests the stop cut off before their answer (the client retries those, and
    duplicates are dropped by event id); every acknowledged one must be there, in order, exactly once."""
    wanted = {visitor: set(seqs) for visitor, seqs in sent_in_order(acknowledged).items()}
    return {visitor: [s for s in kept.get(visitor, []) if s in seqs] for visitor, seqs in wanted.items()}
