"""GET /v1/kpi/stages latency over 1M leads and 10M events beside the same numbers computed by a plain SQL
GROUP BY over the raw event table, same run.

In a scratch schema: the event store is filled with COPY (bench/kpi_workload.py), the projections are built
by `stagetrack kpi rebuild`'s code (timed), then `stagetrack serve kpi` answers several periods; the
baseline (bench/kpi_baseline.py) computes the same numbers from `lead_events`, and the two must agree.
docs/benchmarks.md explains the method and records the numbers. Sizes: BENCH_KPI_LEADS (default 1,000,000),
BENCH_KPI_EVENTS_PER_LEAD (10).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import scratch_stack, served
from bench.kpi_baseline import Numbers, from_api, plain_sql
from bench.kpi_workload import Loaded, Streams, copy_events
from services.common.db import raw_connection
from services.common.keys import KeyStore
from services.common.service import database
from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.projection_store import TABLES
from services.kpi.adapters.transaction import transaction
from services.kpi.app.rebuild import ProgressBar, Rebuilt, rebuild
from tests.stack import free_port, settings_env

LEADS = int(os.environ.get("BENCH_KPI_LEADS", "1000000"))
EVENTS_PER_LEAD = int(os.environ.get("BENCH_KPI_EVENTS_PER_LEAD", "10"))
REQUESTS = int(os.environ.get("BENCH_KPI_REQUESTS", "7"))  # timed requests per period (after one warm-up)
BASELINE_RUNS = int(os.environ.get("BENCH_KPI_BASELINE_RUNS", "3"))
TARGET = 50.0
REPO = Path(__file__).resolve().parents[1]
END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # the log ends at today's midnight
# (label, from, to): dates, i.e. midnights in the reporting zone (UTC here), as a dashboard asks.
PERIODS = [
    ("last 30 days", END - timedelta(days=30), END),
    ("last 7 days", END - timedelta(days=7), END),
    ("30 days, 200 days ago", END - timedelta(days=200), END - timedelta(days=170)),
    ("7 days, 100 days ago", END - timedelta(days=100), END - timedelta(days=93)),
]


async def load(settings: ServiceSettings, model: StageModel) -> tuple[Loaded, float, Rebuilt, float, float]:
    """COPY the log, rebuild the projections as `stagetrack kpi rebuild` does, VACUUM ANALYZE; with timings."""
    async with database(settings) as engine:
        started = time.perf_counter()
        async with transaction(engine) as conn:
            loaded = await copy_events(conn, Streams(model, LEADS, EVENTS_PER_LEAD, END))
        copied = time.perf_counter() - started
        await vacuum(engine, ["lead_events"])
        bar = ProgressBar(sys.stderr)
        started = time.perf_counter()
        rebuilt = await rebuild(engine, model, progress=bar)
        rebuilding = time.perf_counter() - started
        bar.close()
        started = time.perf_counter()
        await vacuum(engine, TABLES)  # docs/kpi.md: after a large rebuild
        vacuumed = time.perf_counter() - started
    return loaded, copied, rebuilt, rebuilding, vacuumed


async def vacuum(engine: AsyncEngine, tables: Sequence[str]) -> None:
    async with engine.connect() as conn:
        raw = await raw_connection(conn)
        for table in tables:
            await raw.execute(f"VACUUM ANALYZE {table}")  # outside a transaction


async def time_api(url: str, key: str, start: datetime, end: datetime) -> tuple[list[float], dict[str, Any]]:
    params = {"from": date.isoformat(start.date()), "to": date.isoformat(end.date())}
    seconds = []
    headers = {"authorization": f"Bearer {key}"}  # a read:kpi key, as a dashboard holds
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client:
        answer = (await client.get("/v1/kpi/stages", params=params)).raise_for_status().json()  # warm-up
        for _ in range(REQUESTS):
            started = time.perf_counter()
            (await client.get("/v1/kpi/stages", params=params)).raise_for_status()
            seconds.append(time.perf_counter() - started)
    return seconds, answer


async def time_baseline(
    settings: ServiceSettings, model: StageModel, start: datetime, end: datetime
) -> tuple[list[float], Numbers]:
    seconds = []
    numbers: Numbers = {}
    async with database(settings) as engine, transaction(engine) as conn:
        await conn.execute("SET LOCAL work_mem = '256MB'")  # the API's reads get 64MB; the baseline sorts more
        for _ in range(BASELINE_RUNS):
            started = time.perf_counter()
            numbers = await plain_sql(conn, model, start, end)
            seconds.append(time.perf_counter() - started)
    return seconds, numbers


def disagreements(api: Numbers, sql: Numbers) -> list[str]:
    return [
        f"{stage}.{name}: API {value!r}, SQL {sql[stage].get(name)!r}"
        for stage, numbers in api.items()
        for name, value in numbers.items()
        if sql[stage].get(name) != value
    ]


async def run() -> None:
    model = default_model()
    load_before = os.getloadavg()[0]
    async with scratch_stack("bench_kpi") as settings:
        loaded, copied, rebuilt, rebuilding, vacuumed = await load(settings, model)
        print(
            f"  {loaded.leads:,} leads, {loaded.events:,} events ({loaded.stage_changes:,} StageChanged) over 365 days"
            f" to {END:%Y-%m-%d}; {os.cpu_count()} CPUs, load average {load_before:.2f} before"
        )
        print(f"  load: COPY {copied:.0f} s ({loaded.events / copied:,.0f} events/s)")
        print(
            f"  projections: `stagetrack kpi rebuild` code path {rebuilding:.0f} s"
            f" ({rebuilt.events / rebuilding:,.0f} events/s), then VACUUM ANALYZE {vacuumed:.0f} s"
        )
        port = free_port()
        argv = [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "kpi"]
        env = settings_env(settings, STAGETRACK_KPI_PORT=str(port), STAGETRACK_LOG_LEVEL="WARNING")
        rows = []
        async with database(settings) as engine:
            key = await KeyStore(engine).create("bench", ["read:kpi"])
        async with served(argv, port, "/readyz", env) as (url, _):
            for label, start, end in PERIODS:
                api_seconds, answer = await time_api(url, key, start, end)
                sql_seconds, numbers = await time_baseline(settings, model, start, end)
                wrong = disagreements(from_api(answer), numbers)
                assert not wrong, f"{label}: the API and the plain SQL disagree:\n" + "\n".join(wrong)
                rows.append((label, start, end, statistics.median(api_seconds), statistics.median(sql_seconds),
                             api_seconds, sql_seconds))  # fmt: skip
    report(rows)


def report(rows: list[tuple[str, datetime, datetime, float, float, list[float], list[float]]]) -> None:
    print(
        f"  {'period':<38} {'GET /v1/kpi/stages':>18} {'plain SQL GROUP BY':>18} {'ratio':>7}"
        f"   (medians of {REQUESTS} requests / {BASELINE_RUNS} runs)"
    )
    ratios = []
    for label, start, end, api, sql, api_all, sql_all in rows:
        ratios.append(sql / api)
        span = f"{label} [{start:%Y-%m-%d}, {end:%Y-%m-%d})"
        print(f"  {span:<38} {api * 1000:>15.1f} ms {sql:>16.2f} s {sql / api:>6.0f}x")
        print(f"  {'':<38} every request: {', '.join(f'{s * 1000:.0f}' for s in api_all)} ms;"
              f" every SQL run: {', '.join(f'{s:.2f}' for s in sql_all)} s")  # fmt: skip
    print(
        f"  ratio plain SQL / GET /v1/kpi/stages: lowest {min(ratios):.0f}x, median {statistics.median(ratios):.0f}x"
        f" (target >= {TARGET:.0f}x); the numbers agree (inflow, outflow by destination, balance, reached,"
        f" cohort CVR counts, time in stage) in every period; load average after {os.getloadavg()[0]:.2f}"
    )
