"""GET /v1/kpi/stages latency over 1M leads and 10M events beside the same numbers computed by a plain SQL
GROUP BY over the raw event table, same run; then sliced by source (`?by=source`) beside the same GROUP BY per
source.

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
from bench.kpi_baseline import Numbers, from_api, from_api_by_source, plain_sql, plain_sql_by_source
from bench.kpi_workload import Loaded, Streams, copy_events
from services.common.db import raw_connection
from services.common.keys import KeyStore
from services.common.service import database
from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from services.common.stage_model.model_types import StageModel
from services.kpi.adapters.projection_store import SUMMARIES, TABLES
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
        await vacuum(engine, [*TABLES, *SUMMARIES])  # docs/kpi.md: after a large rebuild
        vacuumed = time.perf_counter() - started
    return loaded, copied, rebuilt, rebuilding, vacuumed


async def vacuum(engine: AsyncEngine, tables: Sequence[str]) -> None:
    async with engine.connect() as conn:
        raw = await raw_connection(conn)
        for table in tables:
            await raw.execute(f"VACUUM ANALYZE {table}")  # outside a transaction


async def time_api(
    url: str, key: str, start: datetime, end: datetime, **extra: str
) -> tuple[list[float], dict[str, Any]]:
    params = {"from": date.isoformat(start.date()), "to": date.isoformat(end.date()), **extra}
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
    settings: ServiceSettings, model: StageModel, start: datetime, end: datetime, *, by_source: bool = False
) -> tuple[list[float], Any]:
    seconds = []
    numbers: Any = {}
    async with database(settings) as engine, transaction(engine) as conn:
        await conn.execute("SET LOCAL work_mem = '256MB'")  # the API's reads get 64MB; the baseline sorts more
        for _ in range(BASELINE_RUNS):
            started = time.perf_counter()
            if by_source:
                numbers = await plain_sql_by_source(conn, model, start, end)
            else:
                numbers = await plain_sql(conn, model, start, end)
            seconds.append(time.perf_counter() - started)
    return seconds, numbers


def sliced_disagreements(model: StageModel, api: dict[str, Numbers], sql: dict[str, Numbers]) -> list[str]:
    """Per source: the API's slice against the GROUP BY's (a source the API leaves out has no numbers to show)."""
    found = [f"source {s!r}: in the plain SQL, not in the API" for s in sql.keys() - api.keys()]
    for source, numbers in api.items():
        found += [f"source {source!r} {line}" for line in disagreements(numbers, sql.get(source, empty(model)))]
    return found


def empty(model: StageModel) -> Numbers:
    return {name: {"outflow": {}, "inflow": 0, "balance": 0} for name in model.stages}


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
        rows, sliced = [], []
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
                unsliced = answer
                api_seconds, answer = await time_api(url, key, start, end, by="source")
                sql_seconds, per_source = await time_baseline(settings, model, start, end, by_source=True)
                wrong = sliced_disagreements(model, from_api_by_source(answer), per_source)
                assert not wrong, f"{label} by source: the API and the plain SQL disagree:\n" + "\n".join(wrong)
                assert from_api(answer["all"]) == from_api(unsliced), f"{label}: all is not the unsliced answer"
                sliced.append((label, start, end, statistics.median(api_seconds), statistics.median(sql_seconds),
                               api_seconds, sql_seconds))  # fmt: skip
    report(rows, "GET /v1/kpi/stages", "plain SQL GROUP BY")
    report(sliced, "...?by=source", "GROUP BY source", f"; by source: {len(per_source)} slices agree too")


def report(
    rows: list[tuple[str, datetime, datetime, float, float, list[float], list[float]]], api: str, sql: str,
    note: str = "",
) -> None:  # fmt: skip
    print(
        f"  {'period':<38} {api:>18} {sql:>18} {'ratio':>7}   (medians of {REQUESTS} requests / {BASELINE_RUNS} runs)"
    )
    ratios = []
    for label, start, end, api_s, sql_s, api_all, sql_all in rows:
        ratios.append(sql_s / api_s)
        span = f"{label} [{start:%Y-%m-%d}, {end:%Y-%m-%d})"
        print(f"  {span:<38} {api_s * 1000:>15.1f} ms {sql_s:>16.2f} s {sql_s / api_s:>6.0f}x")
        print(f"  {'':<38} every request: {', '.join(f'{s * 1000:.0f}' for s in api_all)} ms;"
              f" every SQL run: {', '.join(f'{s:.2f}' for s in sql_all)} s")  # fmt: skip
    print(
        f"  ratio {sql} / {api}: lowest {min(ratios):.0f}x, median {statistics.median(ratios):.0f}x"
        f" (target >= {TARGET:.0f}x); the numbers agree (inflow, outflow by destination, balance, reached,"
        f" cohort CVR counts, time in stage) in every period{note}; load average after {os.getloadavg()[0]:.2f}"
    )
