"""Dispatch end-to-end latency: from an event's POST to the ingest until a local receiver has the webhook, p50/p95/p99
at a steady 200 events/s for 60 s, beside the floor: the same path (ingest -> engine -> outbox ->
stagetrack.lead-events) with a bare aiokafka consumer that posts each record to the same receiver in place of the
dispatcher. Goal: the dispatcher's p99 <= 2 s and <= 3x the floor's.

Each event is a high-intent form of a new lead (one `stage_entered` mql moment each, one subscription). Every
service runs as a real process on the local stack, each pass on a scratch schema and topics of its own; the first
WARM_UP seconds of each pass are not counted. docs/dispatch.md records the method; rerun with
`make bench BENCH=bench_dispatch` (BENCH_DISPATCH_RATE, BENCH_DISPATCH_SECONDS change the load).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import orjson
import psutil
import uvicorn
from starlette.types import Receive, Scope, Send

from bench.harness import process, scratch_stack, served
from services.common.keys import KeyStore
from services.common.service import database
from services.common.settings import ServiceSettings
from tests.stack import free_port, settings_env

RATE = float(os.environ.get("BENCH_DISPATCH_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_DISPATCH_SECONDS", "60"))
WARM_UP = 5.0  # seconds of load before the measured ones
TICK = 0.05  # seconds between requests to the ingest
DRAIN_SECONDS = 60.0  # how long to wait for the last webhooks
REPO = Path(__file__).resolve().parents[1]
STAGETRACK = str(REPO / ".venv" / "bin" / "stagetrack")
SUBSCRIPTIONS = """
endpoints:
  - {name: bench, url: "URL", secret_env: BENCH_DISPATCH_SECRET}
subscriptions:
  - {name: mql, moments: [stage_entered], stages: [mql], endpoints: [bench]}
"""


class Receiver:
    """Records when each lead's moment arrived: the dispatcher's webhook (its crm id), or the floor's
    StageChanged record into mql (its internal lead id, mapped to the crm id by the IdentityLinked record)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}  # crm id -> time
        self._internal: dict[str, float] = {}  # internal lead id -> time (floor)
        self._crm_of: dict[str, str] = {}  # internal lead id -> crm id (floor)
        self.after_recorded: list[float] = []  # dispatcher only: webhook arrival - the moment's recorded_at

    def arrivals(self) -> dict[str, float]:
        found = dict(self.arrived)
        for lead, at in self._internal.items():
            if lead in self._crm_of:
                found[self._crm_of[lead]] = at
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        at = time.monotonic()
        data = orjson.loads(body)
        if data.get("type") == "stage_entered":
            self.arrived.setdefault(data["data"]["crm_ids"][0], at)
            recorded = datetime.fromisoformat(data["data"]["recorded_at"]).timestamp()
            self.after_recorded.append(time.time() - recorded)
        elif "event" in data:
            event = data["event"]
            if event["type"] == "IdentityLinked" and event["kind"] == "crm":
                self._crm_of[data["lead_id"]] = event["value"]
            elif event["type"] == "StageChanged" and event["to_stage"] == "mql":
                self._internal.setdefault(data["lead_id"], at)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    config = uvicorn.Config(receiver, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it could not start: say why
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{receiver.port}/hook"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def pipeline(settings: ServiceSettings) -> AsyncIterator[str]:
    """The ingest and the engine (with its outbox) as processes; yields the ingest's URL."""
    ingest_port, engine_port = free_port(), free_port()
    quiet = {"STAGETRACK_LOG_LEVEL": "WARNING"}
    ingest_env = settings_env(settings, STAGETRACK_INGEST_PORT=str(ingest_port), **quiet)
    engine_env = settings_env(
        settings,
        STAGETRACK_ENGINE_PORT=str(engine_port),
        STAGETRACK_CONSUMER_GROUP=f"bench-{uuid.uuid4().hex}",
        **quiet,
    )
    async with (
        served([STAGETRACK, "serve", "ingest"], ingest_port, "/readyz", ingest_env) as (ingest, _),
        served([STAGETRACK, "serve", "engine"], engine_port, "/readyz", engine_env),
    ):
        yield ingest


@contextlib.asynccontextmanager
async def dispatcher(settings: ServiceSettings, url: str, workdir: Path) -> AsyncIterator[None]:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    subscriptions = workdir / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS.replace("URL", url))
    port = free_port()
    env = settings_env(
        settings,
        STAGETRACK_DISPATCH_PORT=str(port),
        STAGETRACK_DISPATCH_SUBSCRIPTIONS=str(subscriptions),
        STAGETRACK_DISPATCH_ALLOWED_DESTINATIONS="127.0.0.1",
        STAGETRACK_DISPATCH_START_FROM="earliest",
        STAGETRACK_DISPATCH_CONSUMER_GROUP=f"bench-{uuid.uuid4().hex}",
        STAGETRACK_LOG_LEVEL="WARNING",
        BENCH_DISPATCH_SECRET=secret,
    )
    async with served([STAGETRACK, "serve", "dispatch"], port, "/readyz", env):
        yield


@contextlib.asynccontextmanager
async def floor(settings: ServiceSettings, url: str, workdir: Path) -> AsyncIterator[None]:
    argv = [
        sys.executable,
        "-m",
        "bench.dispatch_floor",
        settings.kafka_bootstrap_servers,
        settings.lead_events_topic,
        url,
    ]
    with process(argv, {**os.environ, "PYTHONPATH": str(REPO)}) as proc:
        await asyncio.sleep(2)  # joins its group (it reads from the topic's start: nothing is missed)
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            raise RuntimeError("the floor's consumer exited")
        yield


async def load(ingest: str, key: str) -> dict[str, float]:
    """Posts high-intent forms of new leads at RATE events/s for WARM_UP + SECONDS, a request every TICK s (so
    the load client and the ingest's per-request cost do not set the pace); returns crm id -> the POST's start of
    the measured ones."""
    run = uuid.uuid4().hex[:8]
    per_request = max(1, round(RATE * TICK))
    requests = int((WARM_UP + SECONDS) / TICK)
    measured_from = int(WARM_UP / TICK)
    posted: dict[str, float] = {}
    acks: list[float] = []
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=ingest, timeout=30, headers=headers) as client:

        async def post(n: int) -> None:
            leads = [f"{run}-{n}-{i}" for i in range(per_request)]
            now = datetime.now(UTC).isoformat()
            events = [
                {
                    "event_id": f"ev-{lead}",
                    "type": "form_submitted",
                    "occurred_at": now,
                    "lead_id": lead,
                    "properties": {"form_id": "contact", "email": f"{lead}@example.com", "intent": "high"},
                }
                for lead in leads
            ]
            started = time.monotonic()
            answer = await client.post("/v1/events", content=orjson.dumps({"events": events}))
            if answer.status_code != 202:
                raise RuntimeError(f"the ingest answered {answer.status_code}: {answer.text[:300]}")
            if n >= measured_from:
                posted.update(dict.fromkeys(leads, started))
                acks.append(time.monotonic() - started)

        start = time.monotonic()
        tasks = []
        for n in range(requests):
            delay = start + n * TICK - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(n)))
        await asyncio.gather(*tasks)
        late = time.monotonic() - start - requests * TICK
    acks.sort()
    print(
        f"    the ingest's answers: p50 {quantile(acks, 0.5) * 1000:.0f} ms, p99 {quantile(acks, 0.99) * 1000:.0f} ms"
        f" ({per_request} events a request; the load ended {max(late, 0):.1f} s after its schedule)"
    )
    return posted


async def one_pass(name: str, contender: str) -> list[float]:
    """Latencies (seconds) of the measured events of one pass."""
    receiver = Receiver()
    async with scratch_stack("bench_dispatch") as settings:
        async with database(settings) as engine:
            key = await KeyStore(engine).create("bench", ["crm"])
        with TemporaryDirectory() as workdir:
            start = dispatcher if contender == "dispatch" else floor
            async with receiving(receiver) as url, pipeline(settings) as ingest, start(settings, url, Path(workdir)):
                posted = await load(ingest, key)
                deadline = time.monotonic() + DRAIN_SECONDS
                while time.monotonic() < deadline:
                    if set(posted) <= set(receiver.arrivals()):
                        break
                    await asyncio.sleep(0.2)
    if receiver.after_recorded:
        after = sorted(receiver.after_recorded)
        print(f"    published on lead-events -> received: p50 {quantile(after, 0.5) * 1000:.0f} ms, "
              f"p99 {quantile(after, 0.99) * 1000:.0f} ms")  # fmt: skip
    arrived = receiver.arrivals()
    missing = [lead for lead in posted if lead not in arrived]
    if missing:
        print(f"  {name}: {len(missing)} of {len(posted)} never arrived within {DRAIN_SECONDS:.0f} s")
    return sorted(arrived[lead] - at for lead, at in posted.items() if lead in arrived)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def run() -> None:
    load_before = os.getloadavg()[0]
    print(
        f"  {RATE:.0f} events/s for {SECONDS:.0f} s (after {WARM_UP:.0f} s of warm-up); load average {load_before:.1f}"
    )
    results = {}
    for name, contender in (("stagetrack dispatch", "dispatch"), ("floor: bare aiokafka consumer", "floor")):
        results[name] = latencies = await one_pass(name, contender)
        if not latencies:
            print(f"  {name:<30} nothing arrived")
            continue
        p50, p95, p99 = (quantile(latencies, q) for q in (0.5, 0.95, 0.99))
        print(f"  {name:<30} p50 {p50 * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms  p99 {p99 * 1000:7.0f} ms"
              f"  max {latencies[-1] * 1000:7.0f} ms  ({len(latencies):,} webhooks)")  # fmt: skip
    if not all(results.values()):
        print("  goal: not measurable (a contender delivered nothing)")
        return
    ours, bare = (quantile(results[n], 0.99) for n in results)
    verdict = "met" if ours <= 2.0 and ours <= 3 * bare else "MISSED"
    print(f"  p99 dispatch / floor: {ours / bare:.2f} (goal: p99 <= 2 s and <= 3x the floor's: {verdict})")
