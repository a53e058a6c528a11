"""The pipeline on Kafka as production runs it: three KRaft brokers of this test's own (deploy/local/kafka-cluster.sh,
its own folder and ports; the local stack's broker is not used), SASL_SSL with SCRAM and client certificates made
here with openssl, the topics created by `migrate` with replication 3 and min.insync.replicas 2. The ingest, the
engine (with its outbox process) and the KPI service run as real processes. A bounded load is posted (LOAD_RATE
events/s for LOAD_SECONDS: modest, as these 2 shared cores take it reliably) and the broker leading the most
partitions of the events topic is killed with SIGKILL midway. Then: no acknowledged event lost, none applied
twice, the ingest answered 2xx or 503 (the window measured), the engine, its outbox and the KPI caught up. The
figures are printed in the test's log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.kafka import ensure_topics
from services.common.keys import KeyStore
from services.common.migrate import migrate_all
from services.common.settings import ServiceSettings
from tests.e2e.kafka_cluster import Cluster
from tests.e2e.kafka_cluster_reads import all_event_ids, leaders, ping_refused, replication
from tests.e2e.steady_load import Batch, Outage, post_steadily
from tests.keys import bearer
from tests.stack import eventually, served, served_process, unique

LOAD_RATE, LOAD_SECONDS, PER_REQUEST = 100, 40, 10  # events/s, s, events per request
KILL_AFTER = LOAD_SECONDS / 2
VISITORS = 200
# Keep-alive shorter than uvicorn's 5 s: a connection the server is closing as idle is never reused for a request.
LOAD_LIMITS = httpx.Limits(max_connections=500, keepalive_expiry=2.0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = time.monotonic()
    cluster = Cluster.create(tmp_path_factory.mktemp("kafka-cluster"))
    cluster.run("start")
    cluster.started_in = time.monotonic() - started
    try:
        yield cluster
    finally:
        cluster.run("stop", timeout=120)


def load(run: str) -> list[Batch]:
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "event_id": f"{run}-{n}",
            "type": "page_viewed",
            "occurred_at": now,
            "anonymous_id": f"{run}-v{n % VISITORS}",
            "properties": {"path": "/docs"},
        }
        for n in range(LOAD_RATE * LOAD_SECONDS)
    ]
    return [events[i : i + PER_REQUEST] for i in range(0, len(events), PER_REQUEST)]


async def scalar(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(sql)) or 0)


def report(request: pytest.FixtureRequest, lines: list[str]) -> None:
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # the figures belong in the test's log
        print("\n" + "\n".join(f"[kafka cluster] {line}" for line in lines), flush=True)


async def test_a_broker_killed_under_load_loses_and_doubles_nothing(
    cluster: Cluster,
    settings: ServiceSettings,
    engine: AsyncEngine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    began = time.monotonic()
    secured = cluster.settings(settings)
    await ping_refused(cluster.settings(settings, kafka_sasl_password="wrong"))  # SCRAM is checked
    # A dead-letter topic made earlier with less replication: migrate names it and changes nothing.
    await ensure_topics(
        secured.kafka_bootstrap_servers, [secured.dead_letter_topic], secured.topic_partitions,
        security=secured.kafka_security, replication_factor=2, min_insync_replicas=1,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, "services.common.kafka"):
        assert await migrate_all(secured) == [secured.events_topic, secured.lead_events_topic]
    warned = [r.getMessage() for r in caplog.records]
    assert any(f"topic {secured.dead_letter_topic} has replication factor 2, less than 3" in w for w in warned), warned
    assert await replication(secured, secured.topics) == {
        secured.events_topic: (3, 2, 3), secured.lead_events_topic: (3, 2, 3), secured.dead_letter_topic: (2, 1, 2)
    }  # fmt: skip
    led = Counter(await leaders(secured, secured.events_topic))
    victim = led.most_common(1)[0][0]
    migrated = time.monotonic()

    key = await KeyStore(engine).create("e2e")
    env = cluster.service_env()
    batches = load(unique("kc"))
    async with (
        served("ingest", secured, tmp_path / "ingest.log", **env) as ingest_url,
        served_process("engine", secured, tmp_path / "engine.log", **env, STAGETRACK_CONSUMER_GROUP=unique("g")) as (
            engine_url,
            _,
        ),
        served("kpi", secured, tmp_path / "kpi.log", **env) as kpi_url,
        httpx.AsyncClient(base_url=ingest_url, headers=bearer(key), limits=LOAD_LIMITS) as ingest,
        httpx.AsyncClient(timeout=10) as probe,
    ):
        for url in (ingest_url, engine_url, kpi_url):  # the readiness checks reach the cluster too
            await eventually(lambda u=url: _ok(probe, f"{u}/readyz"), 60, f"{url}/readyz 200")
        ready = time.monotonic()
        killed: list[float] = []
        controller: list[int | None] = []

        async def kill_midway() -> None:
            await asyncio.sleep(KILL_AFTER)
            controller.append(cluster.active_controller())
            killed.append(await asyncio.to_thread(cluster.kill, victim))

        killer = asyncio.create_task(kill_midway())
        attempts = await post_steadily(ingest, batches, interval=PER_REQUEST / LOAD_RATE)
        await killer
        loaded = time.monotonic()

        sent = {e["event_id"] for batch in batches for e in batch}
        acknowledged = {e["event_id"] for a in attempts if a.acknowledged for e in batches[a.batch]}
        await eventually(
            lambda: _at_least(engine, "SELECT count(*) FROM processed_events", len(acknowledged)), 180, "engine"
        )
        engine_caught_up = time.monotonic() - loaded
        head = await scalar(engine, "SELECT coalesce(max(position), 0) FROM lead_events")
        await eventually(
            lambda: _at_least(engine, "SELECT position FROM kpi_checkpoint WHERE name = 'projections'", head),
            180,
            "KPI",
        )
        kpi_caught_up = time.monotonic() - loaded
        await eventually(lambda: _published(probe, engine_url, head), 180, "outbox published the store's head")
        outbox_caught_up = time.monotonic() - loaded

    async with engine.connect() as conn:
        processed = Counter((await conn.execute(text("SELECT event_id FROM processed_events"))).scalars())
        views = int(await conn.scalar(text("SELECT coalesce(sum(views), 0) FROM lead_activity")) or 0)
        visitors = int(await conn.scalar(text("SELECT count(DISTINCT lead_id) FROM lead_events")) or 0)
        kpi_leads = int(await conn.scalar(text("SELECT count(*) FROM kpi_leads")) or 0)
    on_topic = Counter(await all_event_ids(secured, secured.events_topic))
    refused_batches = {a.batch for a in attempts if not a.acknowledged}
    retried_ids = {e["event_id"] for b in refused_batches for e in batches[b]}
    doubled_on_topic = {i for i, n in on_topic.items() if n > 1}
    lost = acknowledged - set(processed)
    applied_twice = views - len(processed)
    outage = Outage.of(attempts, killed[0])
    report(request, [
        f"3 brokers, SASL_SSL + SCRAM-SHA-256 + client certificates, replication 3, min.insync.replicas 2; "
        f"{LOAD_RATE} events/s for {LOAD_SECONDS} s ({len(batches)} requests of {PER_REQUEST}); broker {victim} "
        f"(leader of {led[victim]} of {secured.topic_partitions} events partitions, "
        f"{'the' if controller[0] == victim else 'not the'} active controller) SIGKILLed at {KILL_AFTER:.0f} s",
        f"events: sent {len(sent)}, acknowledged {len(acknowledged)}, lost {len(lost)}, applied twice {applied_twice}, "
        f"processed {len(processed)}, views counted {views}",
        f"events topic: {sum(on_topic.values())} records; event ids twice: {len(doubled_on_topic - retried_ids)} "
        f"never refused, {len(doubled_on_topic & retried_ids)} from requests retried after a 503 (deduplicated)",
        f"ingest answers: {outage.attempts} ({outage.statuses}); refused from "
        f"{_s(outage.first_refused)} to {_s(outage.last_refused)} after the kill: 503 window {outage.window:.1f} s; "
        f"slowest 2xx {outage.slowest_ack:.2f} s; refused answers by second after the kill {outage.refused_per_second}",
        f"caught up after the load: engine {engine_caught_up:.1f} s, KPI {kpi_caught_up:.1f} s ({kpi_leads} leads), "
        f"outbox {outbox_caught_up:.1f} s (store head {head})",
        f"timings: cluster start {cluster.started_in:.0f} s, migrate {migrated - began:.0f} s, services "
        f"{ready - migrated:.0f} s, load {loaded - ready:.0f} s, test {time.monotonic() - began:.0f} s",
    ])  # fmt: skip
    assert acknowledged == sent, "every request was acknowledged in the end (503s retried)"
    assert not lost and set(processed) <= sent
    assert applied_twice == 0 and max(processed.values()) == 1
    assert not doubled_on_topic - retried_ids, "an event acknowledged at once is on the topic once"
    assert set(outage.statuses) <= {202, 503}, f"the ingest answered every request, 2xx or 503: {outage.unanswered}"
    assert visitors == VISITORS and kpi_leads == VISITORS


async def _ok(client: httpx.AsyncClient, url: str) -> bool:
    return (await client.get(url)).status_code == 200


async def _at_least(engine: AsyncEngine, sql: str, count: int) -> bool:
    return await scalar(engine, sql) >= count


async def _published(client: httpx.AsyncClient, engine_url: str, head: int) -> bool:
    metrics = (await client.get(f"{engine_url}/metrics")).text
    line = next(m for m in metrics.splitlines() if m.startswith("stagetrack_engine_published_position "))
    return float(line.split()[1]) >= head


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:+.1f} s"
