"""The right to erasure on an immutable log: a person browses, fills a form with an email and a phone number,
becomes a customer with revenue, and one of their events is dead-lettered; `stagetrack erase --email` then
leaves no byte of their email, phone or name in any record of the three topics, any text, jsonb or bytes column
or the services' logs, while every KPI answer and KPI metric is the same, a replay still matches live, and a
second person, stored in the same batches, is untouched and exported whole."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.keys import bearer, new_key
from tests.stack import REPO, consume, eventually, served, settings_env, unique

_minutes = itertools.count()
HANAKO = {"email": "Hanako.Yamada@example.co.jp", "phone": "+81 90-4417-2290", "name": "Hanako Yamada"}
TARO = {"email": "taro.suzuki@example.net", "phone": "080-5521-7734", "name": "Taro Suzuki"}
KPI_FAMILIES = ("stagetrack_stage_", "stagetrack_revenue_", "stagetrack_time_in_stage_", "stagetrack_feedback_")


def traces(person: dict[str, str]) -> list[bytes]:
    """Every byte sequence the person's data could leave: as sent, lower-cased, the phone's digits."""
    found = {v.encode() for v in person.values()} | {v.lower().encode() for v in person.values()}
    found.add("".join(c for c in person["phone"] if c.isdigit())[-8:].encode())
    found |= {part.encode() for part in person["name"].split()}
    return sorted(found)


def event(
    type: str, *, anon: str | None = None, lead: str | None = None, id: str | None = None, **props: Any
) -> dict[str, Any]:
    minute = next(_minutes)
    return {
        "event_id": id or unique("ev"),
        "type": type,
        "occurred_at": f"2026-09-01T{minute // 60:02d}:{minute % 60:02d}:00+00:00",
        "anonymous_id": anon,
        "lead_id": lead,
        "properties": props,
    }


def journey(p: dict[str, str], anon: str, lead: str, amount: int) -> list[list[dict[str, Any]]]:
    """The person's events, batch by batch."""
    return [
        [event("page_viewed", anon=anon, path="/blog"), event("page_viewed", anon=anon, path="/pricing")],
        [
            event(
                "form_submitted",
                anon=anon,
                form_id="demo",
                intent="high",
                email=p["email"],
                phone=p["phone"],
                name=p["name"],
            )
        ],
        [
            event(
                "identified",
                anon=anon,
                lead=lead,
                email=p["email"],
                traits={"name": p["name"], "phone": p["phone"], "company": "Example KK"},
            ),
            event("lead_accepted", lead=lead),
            event("meeting_scheduled", lead=lead),
            event("meeting_held", lead=lead),
            event("opportunity_won", lead=lead, opportunity_id=f"o-{lead}", amount=amount),
        ],
    ]


def timeless(answer: Any) -> Any:
    """An answer without what moves with the wall clock: the period's `now` and the ages of open stays (the
    events are months old, so every count, sum and rate is fixed)."""
    if isinstance(answer, dict):
        return {k: timeless(v) for k, v in answer.items() if k not in ("now", "age")}
    if isinstance(answer, list):
        return [timeless(v) for v in answer]
    return answer


class Stack:
    def __init__(self, settings: ServiceSettings, clients: dict[str, httpx.AsyncClient], logs: list[Path]) -> None:
        self.settings, self.clients, self.logs = settings, clients, logs

    async def post(self, events: list[dict[str, Any]]) -> None:
        answer = await self.clients["ingest"].post("/v1/events", json={"events": events})
        assert answer.status_code == 202 and answer.json()["accepted"] == len(events), answer.text

    async def kpis(self) -> dict[str, Any]:
        kpi = self.clients["kpi"]
        period = {"from": "2026-08-01", "to": "2026-10-01"}
        found: dict[str, Any] = {}
        for path in (
            "stages",
            "revenue",
            "customer-success",
            "feedback",
            "bottleneck",
            "forecast",
            "accounts",
            "stages/onboarding/balance",
        ):
            answer = await kpi.get(f"/v1/kpi/{path}", params=period)
            assert answer.status_code == 200, (path, answer.text)
            found[path] = timeless(answer.json())
        metrics = (await kpi.get("/metrics")).text.splitlines()
        found["metrics"] = sorted(line for line in metrics if line.startswith(KPI_FAMILIES))
        return found

    def stagetrack(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = settings_env(self.settings, STAGETRACK_CONSUMER_GROUP=self.group)
        return subprocess.run(
            [str(REPO / ".venv" / "bin" / "stagetrack"), *args], env=env, capture_output=True, text=True, timeout=300
        )

    group = ""


@pytest.fixture
async def stack_(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> AsyncIterator[Stack]:
    await upgrade(settings.database_url, settings.database_schema)
    async with engine.begin() as conn:  # one of Hanako's events is one only the store refuses: it is dead-lettered
        await conn.execute(
            text("ALTER TABLE lead_events ADD CONSTRAINT refuse_poison CHECK (cause_event_id NOT LIKE 'poison%')")
        )
    writer, reader, kpi_reader = (
        await new_key(engine, "crm"),
        await new_key(engine, "read:leads"),
        await new_key(engine, "read:kpi"),
    )
    group = unique("g")
    logs = [tmp_path / f"{name}.log" for name in ("ingest", "engine", "kpi")]
    async with (
        served("ingest", settings, logs[0]) as ingest_url,
        served("engine", settings, logs[1], STAGETRACK_CONSUMER_GROUP=group) as engine_url,
        served("kpi", settings, logs[2], STAGETRACK_METRICS_CACHE_SECONDS="0") as kpi_url,
        httpx.AsyncClient(base_url=ingest_url, headers=bearer(writer)) as ingest,
        httpx.AsyncClient(base_url=engine_url, headers=bearer(reader)) as engine_client,
        httpx.AsyncClient(base_url=kpi_url, headers=bearer(kpi_reader)) as kpi,
    ):
        stack = Stack(settings, {"ingest": ingest, "engine": engine_client, "kpi": kpi}, logs)
        stack.group = group
        yield stack


async def leaks(stack: Stack, engine: AsyncEngine, needles: list[bytes]) -> list[str]:
    """Where any needle is found: topic records (key, value, headers), text/jsonb/bytes columns, logs."""
    found: list[str] = []
    for topic in stack.settings.topics:
        for record in await consume(stack.settings, topic, 1, within=5):
            blob = b"".join([record.key or b"", record.value or b"", *(v for _, v in record.headers)])
            found += [f"{topic}: {n!r}" for n in needles if n in blob]
    async with engine.connect() as conn:
        columns = await conn.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND data_type IN ('text', 'jsonb', 'json', 'bytea', 'ARRAY', 'character varying')"
            )
        )
        for table, column, kind in columns.all():
            as_text = f"encode(\"{column}\", 'escape')" if kind == "bytea" else f'"{column}"::text'
            for needle in needles:
                hit = await conn.scalar(
                    text(f'SELECT count(*) FROM "{table}" WHERE strpos({as_text}, :needle) > 0'),
                    {"needle": needle.decode()},
                )
                if hit:
                    found.append(f"{table}.{column}: {needle!r}")
    for log in stack.logs:
        content = log.read_bytes()
        found += [f"{log.name}: {n!r}" for n in needles if n in content]
    return found


async def test_an_erased_person_leaves_no_trace_and_no_count_changes(stack_: Stack, engine: AsyncEngine) -> None:
    s = stack_
    hanako, taro = journey(HANAKO, "anon-h", "crm-h", 1_200_000), journey(TARO, "anon-t", "crm-t", 800_000)
    poison = event(  # a view of the customer: it scores, and the store refuses its row
        "page_viewed", lead="crm-h", id=unique("poison"), path="/contact", contact_phone=HANAKO["phone"]
    )
    for mine, theirs in zip(hanako, taro, strict=True):
        await s.post(mine + theirs)  # the same batches: both persons in one request each time
    await s.post([poison])

    async def settled() -> bool:
        leads = [(await s.clients["engine"].get(f"/v1/leads/{crm}")).json() for crm in ("crm-h", "crm-t")]
        revenue = (
            await s.clients["kpi"].get("/v1/kpi/revenue", params={"from": "2026-08-01", "to": "2026-10-01"})
        ).json()
        return all(lead.get("stage") == "onboarding" for lead in leads) and "2000000" in orjson.dumps(revenue).decode()

    await eventually(settled, 60, "both persons customers, their revenue counted")
    assert len(await consume(s.settings, s.settings.dead_letter_topic, 1)) == 1
    async with (
        engine.begin() as conn
    ):  # the cause is fixed and the dead letter redriven: live holds it as a replay will
        await conn.execute(text("ALTER TABLE lead_events DROP CONSTRAINT refuse_poison"))
    redriven = s.stagetrack("dead-letters", "redrive", "--all")
    assert redriven.returncode == 0, redriven.stderr

    async def poison_stored() -> bool:
        async with engine.connect() as conn:
            found = "SELECT count(*) FROM lead_events WHERE cause_event_id = :id"
            return bool(await conn.scalar(text(found), {"id": poison["event_id"]}))

    await eventually(poison_stored, 30, "the redriven event stored")
    hanako_lead = (await s.clients["engine"].get("/v1/leads/crm-h")).json()["lead_id"]
    before = await eventually(lambda: _stable(s), 30, "the KPIs stable")

    erased = s.stagetrack("erase", "--email", HANAKO["email"])
    assert erased.returncode == 0, erased.stderr
    receipt = orjson.loads(erased.stdout)
    assert receipt["lead_ids"] == [hanako_lead] and receipt["keys_deleted"] >= 1
    assert not any(n in erased.stdout.encode() for n in traces(HANAKO))

    assert await leaks(s, engine, traces(HANAKO)) == []
    seen = await leaks(s, engine, [b"crm-t"])  # the search does find what is there: Taro's CRM id, a pseudonym
    assert any(w.startswith(s.settings.events_topic) for w in seen) and any("lead_identities" in w for w in seen)
    assert await s.kpis() == before
    assert (await s.clients["engine"].get("/v1/leads/crm-h")).status_code == 404  # its identities are gone
    kept = (await s.clients["engine"].get(f"/v1/leads/{hanako_lead}")).json()
    assert kept["stage"] == "onboarding" and kept["crm_ids"] == []  # the stays and transitions stay

    replay = s.stagetrack("replay")
    assert replay.returncode == 0, replay.stdout + replay.stderr

    again = s.stagetrack("erase", "--email", HANAKO["email"])
    assert again.returncode == 0 and orjson.loads(again.stdout)["keys_deleted"] == 0

    exported = s.stagetrack("export", "--crm-id", "crm-t")
    assert exported.returncode == 0, exported.stderr
    taro_data = orjson.loads(exported.stdout)
    form, identify = (
        next(e for e in taro_data["events"] if e["type"] == kind) for kind in ("form_submitted", "identified")
    )
    assert {k: form["properties"][k] for k in TARO} == TARO
    assert identify["properties"]["traits"] == {"name": TARO["name"], "phone": TARO["phone"], "company": "Example KK"}
    assert all(e["personal_fields_readable"] for e in taro_data["events"])
    assert [lead["state"]["stage"] for lead in taro_data["leads"]] == ["onboarding"]
    assert {row["api_key_id"] for row in taro_data["reads"]}  # the engine's reads of Taro's lead were audited

    hanako_data = orjson.loads(s.stagetrack("export", "--lead-id", hanako_lead).stdout)
    sealed = [e for e in hanako_data["events"] if not e["personal_fields_readable"]]
    assert sealed and all(e["properties"].get("email") in (None, "erased") for e in hanako_data["events"])


async def _stable(s: Stack) -> dict[str, Any] | None:
    """The KPIs once the projector is done with the last lead events: two equal readings a second apart."""
    first = await s.kpis()
    await asyncio.sleep(1)
    second = await s.kpis()
    assert second == first, [k for k in first if first[k] != second[k]]
    return first
