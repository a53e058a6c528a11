"""1,000 requests with wrong keys from one client: past the threshold they are refused 429 before any key
lookup, PostgreSQL sees no query per request, and a good client on another address keeps its latency."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.stack import REPO, eventually, served

FLOOD_REQUESTS = 1000
FLOOD_SECONDS = 8.0
LIMIT = 20
FLOODER_ADDRESS = "127.0.0.2"  # the good client connects from 127.0.0.1


async def _reads_of_the_schema(engine: AsyncEngine, schema: str) -> int:
    """Scans of the test schema's tables (the key lookups among them), as PostgreSQL's statistics count them."""
    async with engine.connect() as conn:
        scans = await conn.scalar(
            text(
                "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables "
                "WHERE schemaname = :schema"
            ),
            {"schema": schema},
        )
    return int(scans)


async def _settled_reads(engine: AsyncEngine, schema: str) -> int:
    """The count once the server's connections have closed and flushed their statistics (unchanged for 1 s)."""
    seen: list[int] = []

    async def unchanged() -> int | None:
        seen.append(await _reads_of_the_schema(engine, schema))
        return seen[-1] if len(seen) > 10 and len(set(seen[-10:])) == 1 else None

    return await eventually(unchanged, 15, "the database statistics settling")


async def _timed_posts(client: httpx.AsyncClient, url: str, key: str, until: asyncio.Event | int) -> list[float]:
    latencies: list[float] = []
    while (len(latencies) < until) if isinstance(until, int) else not until.is_set():
        event = {
            "event_id": str(uuid.uuid4()),
            "type": "page_viewed",
            "occurred_at": "2026-11-01T09:00:00+09:00",
            "anonymous_id": "anon-good",
            "properties": {"path": "/pricing"},
        }
        started = time.perf_counter()
        response = await client.post(f"{url}/v1/events", json=event, headers={"Authorization": f"Bearer {key}"})
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 202, response.text
    return latencies


def _metric(exposition: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name} {labels} not exposed")


async def test_a_flood_of_wrong_keys_is_refused_429_without_queries_and_good_clients_keep_their_latency(
    ingest_settings: IngestSettings, key_store: KeyStore, engine: AsyncEngine, tmp_path: Path
) -> None:
    good_key = await key_store.create("web")
    schema = ingest_settings.database_schema
    env = {"STAGETRACK_AUTH_FAILURE_LIMIT": str(LIMIT), "STAGETRACK_AUTH_BLOCK_SECONDS": "60"}
    async with served("ingest", ingest_settings, tmp_path / "ingest.log", **env) as url:
        async with httpx.AsyncClient(timeout=10) as good:
            await _timed_posts(good, url, good_key, 5)  # warm: connection, key cache, producer
            reads_before = await _reads_of_the_schema(engine, schema)
            idle = await _timed_posts(good, url, good_key, 40)
            flood_done = asyncio.Event()
            during = asyncio.create_task(_timed_posts(good, url, good_key, flood_done))
            flooder = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.integration.ingest.flood",
                url,
                str(FLOOD_REQUESTS),
                str(FLOOD_SECONDS),
                FLOODER_ADDRESS,
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
            )
            output, _ = await asyncio.wait_for(flooder.communicate(), 60)
            flood_done.set()
            flooded = await during
            idle += await _timed_posts(good, url, good_key, 40)  # idle before and after: the box's own drift
            metrics = (await good.get(f"{url}/metrics")).text
    reads = await _settled_reads(engine, schema) - reads_before

    result = orjson.loads(output)
    statuses: list[int] = result["statuses"]
    refused, throttled = statuses.count(401), statuses.count(429)
    idle_median, flood_median = statistics.median(idle), statistics.median(flooded)
    figures = (
        f"{len(statuses)} wrong-key requests in {result['seconds']:.1f} s: {refused} answered 401, {throttled} 429; "
        f"{reads} table reads in the schema meanwhile; good client median {idle_median * 1000:.1f} ms idle, "
        f"{flood_median * 1000:.1f} ms during the flood ({len(flooded)} requests)"
    )
    print(figures)
    assert len(statuses) == FLOOD_REQUESTS and refused + throttled == FLOOD_REQUESTS, figures
    # 429s only past the threshold; a few more 401s than the limit may be answers already in flight
    assert LIMIT <= refused <= LIMIT + 10 and statuses[: LIMIT - 1].count(429) == 0, figures
    assert reads < 100, figures  # one lookup per request would be 1,000
    assert flood_median <= 2 * idle_median, figures
    assert result["first_429"]["retry_after"] is not None and 1 <= int(result["first_429"]["retry_after"]) <= 60
    error = result["first_429"]["body"]["errors"][0]
    assert error["field"] == "authorization" and "too many failed authentications from this address" in error["reason"]
    assert _metric(metrics, "stagetrack_auth_throttled_total", service="ingest", by="address") == throttled
    assert _metric(metrics, "stagetrack_auth_failures_total", service="ingest") == refused
    assert "authentication:" in (tmp_path / "ingest.log").read_text()  # logged, once per interval
