"""The collector's cache: one read per `cache_seconds`, concurrent scrapes share it, a failure keeps the
last snapshot (counted), and /metrics awaits the refresh. The reader is replaced here (unit tier only)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.common.http import health_router
from services.common.stage_model.model import default_model
from services.kpi.adapters import collector as collector_module
from services.kpi.adapters.collector import KpiCollector
from services.kpi.domain.kpi_metrics import KpiSnapshot
from services.kpi.domain.slice_metrics import SliceSnapshot

MQL = {"stage": "mql", "division": "marketing"}


class Reader:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def __call__(self, engine: Any, now: datetime, model: Any) -> tuple[KpiSnapshot, SliceSnapshot]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionRefusedError("PostgreSQL away")
        return KpiSnapshot(balance=[("mql", self.calls)]), SliceSnapshot()


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Reader:
    fake = Reader()
    monkeypatch.setattr(collector_module, "read_snapshot", fake)
    return fake


def _collector(cache_seconds: float) -> tuple[KpiCollector, CollectorRegistry]:
    registry = CollectorRegistry()
    collector = KpiCollector(None, default_model(), cache_seconds, clock=lambda: 1_700_000_000.0)  # type: ignore[arg-type]
    registry.register(collector)
    return collector, registry


async def test_before_the_first_refresh_the_kpi_families_are_absent(reader: Reader) -> None:
    _, registry = _collector(60)
    assert reader.calls == 0  # registering does not read
    assert registry.get_sample_value("stagetrack_stage_leads", MQL) is None
    assert registry.get_sample_value("stagetrack_kpi_metrics_refreshed_timestamp_seconds") == 0


async def test_reads_at_most_once_per_cache_period_and_concurrent_scrapes_share_a_read(reader: Reader) -> None:
    collector, registry = _collector(60)
    reader.gate = asyncio.Event()
    scrapes = [asyncio.create_task(collector.refresh()) for _ in range(5)]
    await asyncio.sleep(0)
    reader.gate.set()
    await asyncio.gather(*scrapes)
    await collector.refresh()
    assert reader.calls == 1
    assert registry.get_sample_value("stagetrack_stage_leads", MQL) == 1
    assert registry.get_sample_value("stagetrack_kpi_metrics_refreshed_timestamp_seconds") == 1_700_000_000.0


async def test_with_no_cache_every_scrape_reads(reader: Reader) -> None:
    collector, registry = _collector(0)
    for _ in range(3):
        await collector.refresh()
    assert registry.get_sample_value("stagetrack_stage_leads", MQL) == 3


async def test_a_failed_refresh_keeps_the_last_snapshot_and_is_counted(reader: Reader) -> None:
    collector, registry = _collector(0)
    await collector.refresh()
    reader.fail = True
    await collector.refresh()
    await collector.refresh()
    assert registry.get_sample_value("stagetrack_stage_leads", MQL) == 1
    assert registry.get_sample_value("stagetrack_kpi_metrics_refresh_failures_total") == 2


async def test_metrics_awaits_the_refresh_set_on_the_app(reader: Reader) -> None:
    collector, registry = _collector(0)
    app = FastAPI()
    app.include_router(health_router(lambda: {}, registry, timeout_seconds=1))
    app.state.before_scrape = collector.refresh
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        body = (await client.get("/metrics")).text
    assert 'stagetrack_stage_leads{division="marketing",stage="mql"} 1.0' in body
