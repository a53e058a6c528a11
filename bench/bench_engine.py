"""Engine events/s (consume -> rules -> commit, `stagetrack serve engine`) beside (A) raw asyncpg executemany
of the rows it wrote and (B) the eventsourcing library's PostgreSQL recorder appending the same events, one
transaction per batch; then the engine's peak RSS at 10k leads vs 1M leads.

Method and numbers: docs/benchmarks-engine.md. Scale down with BENCH_ENGINE_PEOPLE, BENCH_ENGINE_ROUNDS,
BENCH_ENGINE_LEADS_SMALL and BENCH_ENGINE_LEADS_BIG.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.engine_baselines import engine_rows, eventsourcing_recorder, per_batch, raw_asyncpg
from bench.engine_process import NO_OUTBOX, SERVE_ENGINE, connect, engine_process, wait_caught_up, wait_published
from bench.engine_workload import journeys, one_view_each, produce, sealed_at_the_door
from bench.harness import median_result, scratch_stack
from services.common.envelope import Event
from services.common.settings import ServiceSettings
from services.stage_engine.app.settings import EngineSettings

PEOPLE = int(os.environ.get("BENCH_ENGINE_PEOPLE", "3500"))  # about 10 envelopes each
ROUNDS = int(os.environ.get("BENCH_ENGINE_ROUNDS", "5"))  # passes vary +-15 %: 5 rounds steady the median
LEADS_SMALL = int(os.environ.get("BENCH_ENGINE_LEADS_SMALL", "10000"))
LEADS_BIG = int(os.environ.get("BENCH_ENGINE_LEADS_BIG", "1000000"))
WARM_UP = 1000
BATCH: int = EngineSettings.model_fields["max_batch_records"].default
ENGINE = "stagetrack serve engine (outbox publishing alongside)"
ENGINE_ALONE = "the same engine, outbox idle"
RAW = "(A) raw asyncpg executemany, 1 txn per batch"
ES = "(B) eventsourcing PostgresApplicationRecorder"
TARGETS = {RAW: 0.3, ES: 1.0}
MiB = 1024 * 1024


@dataclass(frozen=True)
class Pass:
    name: str
    envelopes: int
    rows: int
    seconds: float
    cpu: float | None = None  # the engine process's CPU meanwhile, in cores

    @property
    def rate(self) -> float:
        return self.envelopes / self.seconds


@dataclass(frozen=True)
class EngineRun:
    seconds: float
    cpu: float
    after: int  # store position before the workload (the warm-up's rows are not counted)
    rows: int  # domain events the engine appended for the workload
    batches: int
    dead_lettered: int


async def last_position(settings: ServiceSettings) -> int:
    conn = await connect(settings)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(position), 0) FROM lead_events"))
    finally:
        await conn.close()


async def count_rows(settings: ServiceSettings, after: int) -> int:
    conn = await connect(settings)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM lead_events WHERE position > $1", after))
    finally:
        await conn.close()


async def run_engine(settings: ServiceSettings, argv: Sequence[str], events: list[Event], log: Path) -> EngineRun:
    """Warm-up (group joined, connections open, the outbox process started and publishing), then the workload
    is written while the engine is stopped (SIGSTOP, well inside the group's session timeout) and timed from
    SIGCONT until its offsets are stored."""
    bootstrap, topic = settings.kafka_bootstrap_servers, settings.events_topic
    warm = await produce(
        bootstrap, topic, one_view_each(f"warm-{uuid.uuid4().hex[:8]}", WARM_UP), settings.kafka_security
    )
    async with engine_process(settings, log, argv) as engine:
        await wait_caught_up(settings, engine, warm, within=120)
        after = await last_position(settings)
        if argv == SERVE_ENGINE:  # its outbox process started too and published the warm-up
            await wait_published(engine, after, within=120)
        batches = await engine.metric("stagetrack_engine_batch_seconds_count")
        engine.pause()
        try:
            ends = await produce(bootstrap, topic, events, settings.kafka_security)
        finally:
            engine.resume()
        started, cpu = time.perf_counter(), engine.cpu_seconds()
        ends = {p: max(end, warm.get(p, 0)) for p, end in ends.items()}
        seconds = await wait_caught_up(settings, engine, ends, within=600) - started
        cpu = engine.cpu_seconds() - cpu
        batches = await engine.metric("stagetrack_engine_batch_seconds_count") - batches
        dead = await engine.metric('stagetrack_engine_events_total{outcome="dead_lettered"}')
    rows = await count_rows(settings, after)
    return EngineRun(seconds, cpu / seconds, after, rows, int(batches), int(dead))


async def one_round(events: list[Event], log: Path) -> tuple[list[Pass], str]:
    async with scratch_stack("bench_engine") as settings:
        run = await run_engine(settings, SERVE_ENGINE, events, log)
        rows = await engine_rows(settings, run.after)
        grouped = per_batch(rows, BATCH)
        passes = [
            Pass(ENGINE, len(events), len(rows), run.seconds, run.cpu),
            Pass(RAW, len(events), len(rows), await raw_asyncpg(settings, grouped)),
            Pass(ES, len(events), len(rows), await eventsourcing_recorder(settings, grouped)),
        ]
    async with scratch_stack("bench_engine") as settings:
        alone = await run_engine(settings, NO_OUTBOX, events, log)
        passes.insert(1, Pass(ENGINE_ALONE, len(events), alone.rows, alone.seconds, alone.cpu))
    note = (
        f"{len(rows):,} domain events in {run.batches} engine transactions "
        f"({len(events) / max(run.batches, 1):,.0f} envelopes each), {run.dead_lettered} dead-lettered; "
        f"baselines: {len(grouped)} transactions, each the rows of {BATCH} envelopes"
    )
    return passes, note


def report(rounds: list[list[Pass]]) -> None:
    names = [p.name for p in rounds[0]]
    by_name = {name: [r[i] for r in rounds] for i, name in enumerate(names)}
    median = {name: median_result(ps) for name, ps in by_name.items()}
    width = max(map(len, names))
    print(f"  {'':<{width}}  {'envelopes':>9}  {'rows':>7}  {'seconds':>7}  {'events/s':>8}  engine CPU  every pass")
    for name, p in median.items():
        cpu = "-" if p.cpu is None else f"{p.cpu:.0%}"
        every = " / ".join(f"{q.rate:,.0f}" for q in by_name[name])
        print(
            f"  {name:<{width}}  {p.envelopes:>9,}  {p.rows:>7,}  {p.seconds:>7.2f}  {p.rate:>8,.0f}  {cpu:>10}"
            f"  {every}"
        )
    for subject in (ENGINE, ENGINE_ALONE):
        for base, target in TARGETS.items():
            ratio = median[subject].rate / median[base].rate
            per_round = ", ".join(
                f"{a.rate / b.rate:.2f}" for a, b in zip(by_name[subject], by_name[base], strict=True)
            )
            verdict = "ok" if ratio >= target else "BELOW"
            print(
                f"  ratio {subject} / {base[:3]}: {ratio:.2f} (per round: {per_round}; target >= {target}: {verdict})"
            )


async def peak_rss(leads: int, log: Path) -> tuple[list[int], float, list[tuple[int, int]]]:
    """Peak RSS (VmHWM) of a fresh `stagetrack serve engine` taking one page view from each of `leads` visitors,
    all on the topic before it starts; returns (peak bytes of the engine and of its outbox process, seconds
    from healthy to caught up, samples of the two processes' RSS summed)."""
    async with scratch_stack("bench_engine_mem") as settings:
        run = uuid.uuid4().hex[:8]
        ends = await produce(
            settings.kafka_bootstrap_servers,
            settings.events_topic,
            one_view_each(run, leads),
            settings.kafka_security,
        )
        samples: list[tuple[int, int]] = []
        async with engine_process(settings, log) as engine:
            started = time.perf_counter()
            done = await wait_caught_up(
                settings,
                engine,
                ends,
                within=120 + leads / 500,
                every=0.5,
                on_poll=lambda n: samples.append((n, engine.rss())),
            )
            return engine.peak_rss(), done - started, samples


def load() -> str:
    return f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"


def peaks(rss: list[int]) -> str:
    """The engine's peak, its outbox process's, and their sum (an upper bound of the pair's peak)."""
    parts = " + ".join(f"{r / MiB:.1f}" for r in rss)
    return f"{sum(rss) / MiB:6.1f} MiB ({parts}: engine + outbox process)"


def quartiles(samples: list[tuple[int, int]], total: int) -> str:
    picks = [next((rss for n, rss in samples if n >= total * q / 4), samples[-1][1]) for q in (1, 2, 3, 4)]
    return " / ".join(f"{rss / MiB:.0f}" for rss in picks)


async def run() -> None:
    hash_key = base64.b64encode(os.urandom(32)).decode()
    events = await sealed_at_the_door(journeys(uuid.uuid4().hex[:8], PEOPLE), hash_key.encode())
    sealed = sum(e.sealed is not None for e in events)
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmp:
        log = Path(tmp) / "engine.log"
        print(f"  {len(events):,} envelopes from {PEOPLE:,} people through THE MODEL, {ROUNDS} round(s); {load()}")
        print(f"  {sealed:,} of them identified and sealed as the ingest seals them (email hash, no address)")
        rounds = []
        for n in range(1, ROUNDS + 1):
            passes, note = await one_round(events, log)
            rounds.append(passes)
            print(f"  round {n}: {note}", flush=True)
        report(rounds)
        print(f"  {load()}", flush=True)
        small, small_s, _ = await peak_rss(LEADS_SMALL, log)
        print(f"  peak RSS, {LEADS_SMALL:>9,} leads: {peaks(small)}  (caught up in {small_s:6.1f} s)", flush=True)
        big, big_s, samples = await peak_rss(LEADS_BIG, log)
        print(
            f"  peak RSS, {LEADS_BIG:>9,} leads: {peaks(big)}  (caught up in {big_s:6.1f} s;"
            f" both processes' RSS at 25/50/75/100 % of the leads: {quartiles(samples, LEADS_BIG)} MiB)"
        )
        for what, a, b in (("engine + outbox", sum(big), sum(small)), ("engine alone", big[0], small[0])):
            ratio = a / b
            verdict = "ok" if ratio <= 1.5 else "ABOVE"
            print(
                f"  ratio peak RSS {LEADS_BIG:,} / {LEADS_SMALL:,} leads, {what}: {ratio:.2f}"
                f" (target <= 1.5: {verdict})"
            )
        print(f"  {load()}")
