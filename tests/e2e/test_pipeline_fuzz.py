"""Fuzz the whole pipeline, not only the door: hostile envelopes posted through the real ingest; whatever it
accepts, the real engine stores or sets aside (dead-letter topic) and the real KPI projector projects or sets
aside, and both keep going: a normal event posted behind them is processed, and every service stays ready."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.e2e.fuzz_envelopes import envelope
from tests.keys import bearer, new_key
from tests.stack import consume, eventually, served, unique

EXAMPLES = 150  # batches of 1..6 events: ~500 envelopes; a minute or two with the checks behind them


@dataclass
class Pipeline:
    ingest: str
    engine: str
    kpi: str
    key: str
    read_key: str  # read:kpi
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # event_id -> the envelope
    refused: int = 0


@pytest.fixture
async def pipeline(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> AsyncIterator[Pipeline]:
    await upgrade(settings.database_url, settings.database_schema)
    key = await KeyStore(engine).create("fuzz")
    read_key = await new_key(engine, "read:kpi")
    quick = {"STAGETRACK_STALL_AFTER_SECONDS": "30", "STAGETRACK_CONSUMER_GROUP": unique("g")}
    async with (
        served("ingest", settings, tmp_path / "ingest.log") as ingest,
        served("engine", settings, tmp_path / "engine.log", **quick) as engine_url,
        served("kpi", settings, tmp_path / "kpi.log", **quick) as kpi,
    ):
        yield Pipeline(ingest, engine_url, kpi, key, read_key)


def post_fuzzed_batches(p: Pipeline, run: str) -> None:
    """Hypothesis drives a plain (blocking) client: the services are processes of their own."""
    serial = itertools.count()
    client = httpx.Client(base_url=p.ingest, headers={"authorization": f"Bearer {p.key}"}, timeout=30)

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(envelope(run), min_size=1, max_size=6))
    def post(batch: list[dict[str, Any]]) -> None:
        for event in batch:  # plain ids made unique: a repeated id is the same event (stored once), by design
            if event["event_id"].startswith(run):
                event["event_id"] = f"{run}-{next(serial)}"
        response = client.post("/v1/events", content=orjson.dumps({"events": batch}))
        assert response.status_code in (202, 413, 422), f"{response.status_code}: {response.text[:500]}"
        body = response.json()
        refused = {e["index"] for e in body["errors"]}
        for e in body["errors"]:  # every refusal names the event, the field and the reason
            assert e["index"] is not None and e["field"] is not None and e["reason"], e
        for index, event in enumerate(batch):
            if index in refused or response.status_code != 202:
                p.refused += 1
            else:
                p.accepted.setdefault(event["event_id"], event)

    with client:
        post()


async def stored_ids(engine: AsyncEngine, wanted: set[str]) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT event_id FROM processed_events WHERE event_id = ANY(:ids)"), {"ids": list(wanted)}
        )
        return {r[0] for r in rows}


async def test_whatever_the_ingest_accepts_is_stored_or_set_aside(
    pipeline: Pipeline, settings: ServiceSettings, engine: AsyncEngine
) -> None:
    p, run = pipeline, unique("fz")
    post_fuzzed_batches(p, run)
    assert len(p.accepted) > 50 and p.refused > 10, (len(p.accepted), p.refused)  # both sides were exercised

    # A normal event behind everything fuzzed: it must get through.
    sentinel = {
        "event_id": f"{run}-sentinel",
        "type": "page_viewed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "anonymous_id": f"{run}-sentinel-visitor",
        "properties": {"path": "/after-the-fuzz"},
    }
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {p.key}"}, timeout=10) as client:
        answer = await client.post(f"{p.ingest}/v1/events", json=sentinel)
        assert answer.status_code == 202, answer.text

        async def sentinel_stored() -> bool:
            return f"{run}-sentinel" in await stored_ids(engine, {f"{run}-sentinel"})

        await eventually(sentinel_stored, 90, "the normal event behind the fuzzed ones stored by the engine")

        # Each accepted event is stored (its id claimed) or set aside on the dead-letter topic with a reason.
        missing = set(p.accepted) - await stored_ids(engine, set(p.accepted))
        if missing:
            set_aside = await consume(settings, settings.dead_letter_topic, len(missing), within=30)
            dead = {_event_id(r.value) for r in set_aside}
            assert missing <= dead, f"accepted but neither stored nor set aside: {sorted(missing - dead)[:5]}"
            assert all(dict(r.headers or []).get("reason") for r in set_aside), "every set-aside names its reason"

        # The KPI projector reaches the store's head (projected or set aside), and nothing is stuck.
        async def kpi_caught_up() -> bool:
            async with engine.connect() as conn:
                head = await conn.scalar(text("SELECT coalesce(max(position), 0) FROM lead_events"))
                done = await conn.scalar(text("SELECT position FROM kpi_checkpoint WHERE name = 'projections'"))
            return done is not None and done >= head

        await eventually(kpi_caught_up, 60, "the KPI projections at the store's head")
        for url in (p.ingest, p.engine, p.kpi):
            ready = await client.get(f"{url}/readyz")
            assert ready.status_code == 200, f"{url}: {ready.text}"
        all_time = {"from": "2000-01-01", "to": "2100-01-01"}
        revenue = await client.get(f"{p.kpi}/v1/kpi/revenue", params=all_time, headers=bearer(p.read_key))
        assert revenue.status_code == 200, revenue.text


def _event_id(raw: bytes) -> str | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value.get("event_id") if isinstance(value, dict) else None
