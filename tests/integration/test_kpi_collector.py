"""The KPI collector against the real PostgreSQL: every family equals the data set's numbers by hand, the
numbers come from the tables (a new collector, as after a restart, shows the same), strays are left out, and
`promtool check metrics` finds nothing to say about the service's /metrics."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.observability import new_registry
from services.common.service import service_app
from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from services.kpi.adapters.collector import KpiCollector
from services.kpi.domain.kpi_metrics import TIME_IN_STAGE_BUCKETS
from tests import kpi_dataset as data

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MODEL = default_model()


async def _collector(engine: AsyncEngine) -> tuple[KpiCollector, CollectorRegistry]:
    registry = CollectorRegistry()
    collector = KpiCollector(engine, MODEL, 0, clock=NOW.timestamp)
    registry.register(collector)
    await collector.refresh()
    return collector, registry


def _assert_wave_numbers(registry: CollectorRegistry, waves: int, strays: int) -> None:
    value = registry.get_sample_value
    for name, stage in MODEL.stages.items():
        labels = {"stage": name, "division": stage.division}
        assert value("stagetrack_stage_leads", labels) == waves * data.BALANCE.get(name, 0), name
        assert value("stagetrack_stage_entries_total", labels) == waves * data.ENTRIES.get(name, 0), name
        durations = data.ENDED.get(name, [])
        for bound in TIME_IN_STAGE_BUCKETS:
            le = {"stage": name, "le": repr(float(bound))}
            within = sum(1 for d in durations if d <= timedelta(seconds=bound))
            assert value("stagetrack_time_in_stage_seconds_bucket", le) == waves * within, (name, bound)
        assert value("stagetrack_time_in_stage_seconds_count", {"stage": name}) == waves * len(durations)
        seconds = sum(d.total_seconds() for d in durations)
        assert value("stagetrack_time_in_stage_seconds_sum", {"stage": name}) == waves * seconds
    for (source, target), n in data.TRANSITIONS.items():
        assert value("stagetrack_stage_transitions_total", {"from_stage": source, "to_stage": target}) == waves * n
    for with_sla, n in data.OVERDUE.items():
        assert value("stagetrack_stage_overdue_leads", {"stage": with_sla}) == waves * n
    for kind, amount in data.REVENUE.items():
        stray = 7 * strays if kind == "new" else 0  # the stray booking of a known kind counts; its share does not
        assert value("stagetrack_revenue_total", {"kind": kind}) == waves * float(amount) + stray
        assert value("stagetrack_revenue_bookings_total", {"kind": kind}) == waves + (strays if kind == "new" else 0)
    for (kind, division), amount in data.ATTRIBUTED.items():
        assert value("stagetrack_revenue_attributed_total", {"kind": kind, "division": division}) == waves * amount
    for (source, target, about), answers in data.FEEDBACK.items():
        labels = {"from_division": source, "to_division": target, "about": about}
        assert value("stagetrack_feedback_rating_count", labels) == waves * len(answers)
        assert value("stagetrack_feedback_rating_sum", labels) == waves * sum(r for r, _ in answers)
        met = sum(1 for _, m in answers if m is True)
        assert value("stagetrack_feedback_expectations_total", {**labels, "met": "true"}) == waves * met
        not_met = sum(1 for _, m in answers if m is False)
        assert value("stagetrack_feedback_expectations_total", {**labels, "met": "false"}) == waves * not_met
    skipped = {"kpi_stays": 1, "kpi_transitions": 1, "kpi_revenue": 1, "kpi_revenue_shares": 2, "kpi_feedback": 1}
    for table, n in skipped.items():
        assert value("stagetrack_kpi_metrics_skipped_rows", {"table": table}) == strays * n, table


async def test_the_collector_reads_the_projection_tables(engine: AsyncEngine) -> None:
    await data.create_kpi_tables(engine)
    await data.insert_wave(engine, NOW, 1, strays=True)
    collector, registry = await _collector(engine)
    _assert_wave_numbers(registry, waves=1, strays=1)
    assert registry.get_sample_value("stagetrack_kpi_metrics_refreshed_timestamp_seconds") == NOW.timestamp()
    assert registry.get_sample_value("stagetrack_kpi_metrics_refresh_failures_total") == 0

    await data.insert_wave(engine, NOW, 2)
    await collector.refresh()
    _assert_wave_numbers(registry, waves=2, strays=1)
    _, restarted = await _collector(engine)  # a new process reads the same counters from the tables
    _assert_wave_numbers(restarted, waves=2, strays=1)


async def test_an_unreachable_database_keeps_the_last_snapshot_and_counts_the_failure(
    engine: AsyncEngine, settings: ServiceSettings
) -> None:
    await data.create_kpi_tables(engine)
    await data.insert_wave(engine, NOW, 1)
    collector, registry = await _collector(engine)
    await engine.dispose()
    from sqlalchemy import make_url

    from services.common import db

    unreachable = make_url(settings.database_url).set(port=1).render_as_string(hide_password=False)
    gone = db.create_engine(unreachable, settings.database_schema)
    collector._engine = gone  # the same collector, its database now unreachable
    await collector.refresh()
    await gone.dispose()
    assert registry.get_sample_value("stagetrack_kpi_metrics_refresh_failures_total") == 1
    _assert_wave_numbers(registry, waves=1, strays=0)


@contextlib.asynccontextmanager
async def _nothing(app: FastAPI) -> AsyncIterator[None]:
    yield


async def test_the_kpi_exposition_passes_promtool_check_metrics(engine: AsyncEngine) -> None:
    await data.create_kpi_tables(engine)
    await data.insert_wave(engine, NOW, 1, strays=True)
    registry = new_registry()
    collector = KpiCollector(engine, MODEL, 5)
    registry.register(collector)
    app = service_app(title="kpi", service="kpi", settings=ServiceSettings(), registry=registry, lifespan=_nothing)
    app.state.before_scrape = collector.refresh
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kpi") as client:
        await client.get("/healthz")
        body = (await client.get("/metrics")).text
    assert "stagetrack_stage_leads{" in body and "stagetrack_time_in_stage_seconds_bucket{" in body
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )
