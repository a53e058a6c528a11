"""Every Grafana panel's query returns data from a real Prometheus scraping the running stack.

The whole path runs for real: events posted to the ingest (a process) go through Kafka to the engine (a
process) and its event store; the KPI service (a process) projects them and exposes them at /metrics; the
dispatcher (a process) sends every stage entered to a small receiver of the test's own; a Prometheus of this
test's own scrapes the four every second with the committed rules. Two waves of the same
scenario (and a poison record each) make every counter move while Prometheus watches, so rates, increases
and the recording rules have something to say. Then:
- the KPI numbers Prometheus stored equal the scenario's, worked out by hand (done-when 2 for these families);
- every target of every generated dashboard returns at least one finite sample through /api/v1/query, with the
  dimension variables set as a manager would: source = google (the slice of leads A and C), the others All.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.kafka import durable_producer
from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.integration.dispatch.receiver import Receiver, new_secret, serving
from tests.stack import REPO, eventually, free_port, served, unique

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
JOBS = {
    "ingest": "stagetrack-ingest",
    "engine": "stagetrack-engine",
    "kpi": "stagetrack-kpi",
    "dispatch": "stagetrack-dispatch",
}
RECEIVER_SECRET_ENV = "STAGETRACK_TEST_RECEIVER_SECRET"
H = timedelta(hours=1)
_ids = itertools.count()

# Per wave, by hand from THE MODEL (PRODUCT.md) and the scenario in `wave_events`.
TRANSITIONS = {
    ("none", "mql"): 2, ("mql", "sal"): 1, ("sal", "sql"): 1, ("sql", "opportunity"): 1,
    ("opportunity", "onboarding"): 1, ("onboarding", "active"): 1, ("active", "churned"): 1,
    ("none", "visitor"): 1, ("visitor", "lead"): 1, ("none", "lead"): 1, ("lead", "nurture"): 1, ("none", "sql"): 1,
}  # fmt: skip
ENTRIES = {"visitor": 1, "lead": 2, "mql": 2, "sal": 1, "sql": 2, "opportunity": 1, "onboarding": 1, "active": 1}
ENTRIES |= {"nurture": 1, "churned": 1}
BALANCE = {"churned": 1, "lead": 1, "mql": 1, "nurture": 1, "sql": 1}
OVERDUE = {"mql": 1, "sql": 1, "onboarding": 0}
ENDED_HOURS = {"mql": 1, "sal": 2, "sql": 24, "opportunity": 48, "onboarding": 240, "active": 185, "visitor": 5}
ENDED_HOURS |= {"lead": 30}
REVENUE = {"new": 1_000_000, "renewal": 200_000, "upsell": 100_000, "cross_sell": 50_000}
ATTRIBUTED = {
    ("new", "marketing"): 300_000, ("new", "inside_sales"): 300_000, ("new", "field_sales"): 400_000,
    ("renewal", "customer_success"): 200_000, ("upsell", "customer_success"): 50_000,
    ("upsell", "field_sales"): 50_000, ("cross_sell", "customer_success"): 25_000,
    ("cross_sell", "field_sales"): 25_000,
}  # fmt: skip
FEEDBACK = [  # (from, to, about, rating, met_expectations): every division gives and gets feedback
    ("field_sales", "inside_sales", "meeting", 4, True),
    ("field_sales", "inside_sales", "meeting", 2, False),
    ("inside_sales", "marketing", "lead", 3, None),
    ("marketing", "customer_success", "campaign", 5, True),
    ("customer_success", "field_sales", "meeting", 4, True),
]


def event(type: str, at: datetime, *, anon: str | None = None, lead: str | None = None, **props: Any) -> dict[str, Any]:
    return {
        "event_id": f"g-{next(_ids)}-{unique('e')}",
        "type": type,
        "occurred_at": at.isoformat(),
        "anonymous_id": anon,
        "lead_id": lead,
        "properties": {k: v for k, v in props.items() if v is not None},
    }


def wave_events(wave: int) -> list[dict[str, Any]]:
    """Five leads; wave 2 is wave 1 a week later with new ids. Event times are weeks before now, so the mql and
    sql SLAs of C and E have passed (overdue now) while A's stays ended in time."""
    t0 = datetime(2026, 10, 1, 9, tzinfo=UTC) + timedelta(days=7 * (wave - 1))
    a, b, c, d, e = (unique(f"{name}{wave}") for name in "ABCDE")
    events = [
        event("form_submitted", t0, lead=a, form_id="f", email=f"{a}@example.com", intent="high", utm_source="google"),
        event("lead_accepted", t0 + 1 * H, lead=a),
        event("meeting_scheduled", t0 + 3 * H, lead=a),
        event("meeting_held", t0 + 27 * H, lead=a),
        event("opportunity_won", t0 + 75 * H, lead=a, opportunity_id=f"o-{a}", amount=REVENUE["new"]),
        event("onboarding_completed", t0 + 315 * H, lead=a),
        event("renewal_won", t0 + 400 * H, lead=a, amount=REVENUE["renewal"]),
        event("upsell_won", t0 + 410 * H, lead=a, amount=REVENUE["upsell"]),
        event("cross_sell_won", t0 + 420 * H, lead=a, amount=REVENUE["cross_sell"], product="p"),
        event("churned", t0 + 500 * H, lead=a, reason="budget"),
        # keyed by the lead like the rest (an anonymous id alone would be another partition: no order between them)
        event("page_viewed", t0, lead=b, path="/blog"),
        event("form_submitted", t0 + 5 * H, lead=b, form_id="f", email=f"{b}@example.com"),
        event("form_submitted", t0, lead=c, form_id="f", email=f"{c}@example.com", intent="high", utm_source="google"),
        event("form_submitted", t0, lead=d, form_id="f", email=f"{d}@example.com", utm_source="bing"),
        event("lead_disqualified", t0 + 30 * H, lead=d, reason="no budget"),
        event("meeting_scheduled", t0, lead=e),
    ]
    for source, target, about, rating, met in FEEDBACK:
        events.append(event("feedback_submitted", t0 + 2 * H, lead=a, from_division=source, to_division=target,
                            about=about, rating=rating, met_expectations=met, campaign="autumn"))  # fmt: skip
    return events


class Prometheus:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def query(self, expr: str) -> list[dict[str, Any]]:
        body = (await self.client.get("/api/v1/query", params={"query": expr})).json()
        assert body["status"] == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def values(self, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {
            tuple(s["metric"].get(name, "") for name in labels): float(s["value"][1]) for s in await self.query(expr)
        }


@contextlib.asynccontextmanager
async def own_prometheus(urls: dict[str, str], tmp_path: Path) -> AsyncIterator[Prometheus]:
    """The committed scrape config aimed at these services, every second, with the committed rules."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(REPO / "deploy" / "prometheus" / "rules" / "*.yml")]
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] in JOBS.values()]
    for job in config["scrape_configs"]:
        service = next(name for name, j in JOBS.items() if j == job["job_name"])
        job["static_configs"][0]["targets"] = [urls[service].removeprefix("http://")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(tmp_path / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def all_up() -> bool:
                assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
                body = (await client.get("/api/v1/targets")).json()
                health = {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}
                return health == {job: "up" for job in JOBS.values()}

            await eventually(all_up, 60, "Prometheus scraping the four services")
            yield Prometheus(client)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(secret=new_secret())


@pytest.fixture
async def stack_urls(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], receiver: Receiver, tmp_path: Path
) -> AsyncIterator[tuple[dict[str, str], str]]:
    """The four services on the test's schema and topics, the dispatcher sending every stage entered to the
    receiver; yields their URLs and an ingest key."""
    await upgrade(settings.database_url, settings.database_schema)
    key = await KeyStore(engine).create("grafana-e2e")
    endpoint = {"name": "receiver", "url": receiver.url, "secret_env": RECEIVER_SECRET_ENV}
    every_move = {"name": "every-move", "moments": ["stage_entered"], "endpoints": ["receiver"]}
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(yaml.safe_dump({"endpoints": [endpoint], "subscriptions": [every_move]}))
    dispatch_env = {
        "STAGETRACK_DISPATCH_SUBSCRIPTIONS": str(subscriptions),
        "STAGETRACK_DISPATCH_ALLOWED_DESTINATIONS": "127.0.0.1",
        "STAGETRACK_DISPATCH_START_FROM": "earliest",
        "STAGETRACK_DISPATCH_CONSUMER_GROUP": unique("dispatch"),
        "STAGETRACK_METRICS_CACHE_SECONDS": "0.5",
        RECEIVER_SECRET_ENV: receiver.secret,
    }
    async with (
        serving(receiver),
        served("ingest", settings, tmp_path / "ingest.log") as ingest,
        served("engine", settings, tmp_path / "engine.log", STAGETRACK_CONSUMER_GROUP=unique("g")) as engine_url,
        served("kpi", settings, tmp_path / "kpi.log", STAGETRACK_METRICS_CACHE_SECONDS="0.5") as kpi,
        served("dispatch", settings, tmp_path / "dispatch.log", **dispatch_env) as dispatch,
    ):
        yield {"ingest": ingest, "engine": engine_url, "kpi": kpi, "dispatch": dispatch}, key


async def send_wave(ingest: httpx.AsyncClient, settings: ServiceSettings, wave: int) -> None:
    response = await ingest.post("/v1/events", json={"events": wave_events(wave)})
    assert response.status_code == 202, response.text
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:  # a record that is no envelope: the engine dead-letters it and moves on
        await producer.send_and_wait(settings.events_topic, b"{not json", key=f"poison-{wave}".encode())
    finally:
        await producer.stop()


def _times(table: dict[Any, int], waves: int) -> dict[Any, float]:
    return {key: float(n * waves) for key, n in table.items()}


async def kpi_numbers_match(prom: Prometheus, waves: int) -> bool:
    """The KPI families Prometheus stored equal the scenario's numbers after `waves` waves (raises naming the first
    family that differs, so `eventually` reports it)."""

    async def by(expr: str, *labels: str) -> dict[Any, float]:
        found = await prom.values(expr, *labels)
        return {k[0] if len(labels) == 1 else k: v for k, v in found.items()}

    assert await by("max by (stage) (stagetrack_stage_entries_total > 0)", "stage") == _times(ENTRIES, waves)
    transitions = await by(
        "max by (from_stage, to_stage) (stagetrack_stage_transitions_total > 0)", "from_stage", "to_stage"
    )
    assert transitions == _times(TRANSITIONS, waves)
    assert await by("max by (stage) (stagetrack_stage_leads > 0)", "stage") == _times(BALANCE, waves)
    assert await by("max by (stage) (stagetrack_stage_overdue_leads)", "stage") == _times(OVERDUE, waves)
    assert await by("max by (kind) (stagetrack_revenue_total)", "kind") == _times(REVENUE, waves)
    attributed = await by("max by (kind, division) (stagetrack_revenue_attributed_total)", "kind", "division")
    assert attributed == _times(ATTRIBUTED, waves)
    ended = await by("max by (stage) (stagetrack_time_in_stage_seconds_count > 0)", "stage")
    assert ended == _times(dict.fromkeys(ENDED_HOURS, 1), waves)
    seconds = await by("max by (stage) (stagetrack_time_in_stage_seconds_sum > 0)", "stage")
    assert seconds == {stage: hours * 3600.0 * waves for stage, hours in ENDED_HOURS.items()}
    given: dict[tuple[str, str], float] = {}
    for source, target, *_ in FEEDBACK:
        given[(source, target)] = given.get((source, target), 0.0) + waves
    feedback = await by(
        "sum by (from_division, to_division) (max by (from_division, to_division, about) "
        "(stagetrack_feedback_rating_count > 0))",
        "from_division",
        "to_division",
    )
    assert feedback == given
    for dimension in ("source", "campaign", "segment"):  # each bounded dimension's slices sum to the whole
        family = f'stagetrack_stage_entries_by_slice_total{{dimension="{dimension}"}}'
        sliced = await by(f"sum by (stage) (max by (stage, value) ({family})) > 0", "stage")
        assert sliced == _times(ENTRIES, waves), dimension
    google = await by('max by (kind) (stagetrack_revenue_by_slice_total{dimension="source", value="google"})', "kind")
    assert google == _times(REVENUE, waves)  # A's revenue: A came from google
    assert await prom.values("max(stagetrack_kpi_metrics_skipped_rows)") == {(): 0.0}
    assert await prom.values('max(stagetrack_engine_events_total{outcome="dead_lettered"})') == {(): float(waves)}
    return True


SELECTED = {"source": "google"}  # the dimension variables a manager set; the others are All (".*")


def dashboard_targets() -> list[tuple[str, str, str]]:
    """Every target's query with the board's variables replaced as Grafana would."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        values = {v["name"]: SELECTED.get(v["name"], v.get("allValue", "")) for v in board["templating"]["list"]}
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in values.items():
                    expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
                found.append((path.name, panel["title"], expr))
    return found


async def test_every_dashboard_query_returns_data_from_the_running_stack(
    stack_urls: tuple[dict[str, str], str], settings: ServiceSettings, receiver: Receiver, tmp_path: Path
) -> None:
    urls, key = stack_urls
    async with (
        own_prometheus(urls, tmp_path) as prom,
        httpx.AsyncClient(base_url=urls["ingest"], headers={"authorization": f"Bearer {key}"}) as ingest,
    ):
        for wave in (1, 2):
            await send_wave(ingest, settings, wave)
            await eventually(lambda w=wave: kpi_numbers_match(prom, w), 90, f"wave {wave}'s numbers in Prometheus")
            moves = sum(TRANSITIONS.values()) * wave
            await eventually(lambda n=moves: _some(len(receiver.delivered()) >= n), 60, f"wave {wave}'s webhooks")

        targets = dashboard_targets()
        assert len(targets) > 50
        failures: dict[str, str] = {}

        async def has_data(expr: str) -> bool:
            values = [float(s["value"][1]) for s in await prom.query(expr)]
            return any(math.isfinite(v) for v in values)

        for board, title, expr in targets:
            try:
                await eventually(lambda e=expr: has_data(e), 30, f"{board} / {title}")
            except AssertionError:
                failures[f"{board} / {title}"] = f"{expr} -> {await prom.query(expr)}"
        assert not failures, "panels without data:\n" + "\n".join(f"{k}: {v}" for k, v in failures.items())


async def _some(value: object) -> object:
    return value
