"""The whole path: events posted to the ingest (a real process) reach the engine (a real process) through
Kafka; GET /v1/leads/{id} then returns exactly the expected histories."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.keys import bearer, new_key
from tests.stack import eventually, served, unique

_ids = itertools.count()
_minutes = itertools.count()


def event(type: str, *, anon: str | None = None, lead: str | None = None, **properties: Any) -> dict[str, Any]:
    minute = next(_minutes)
    return {
        "event_id": f"ev-{next(_ids)}-{unique('x')}",
        "type": type,
        "occurred_at": f"2026-10-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00+00:00",
        "anonymous_id": anon,
        "lead_id": lead,
        "properties": properties,
    }


class Stack:
    def __init__(self, ingest: httpx.AsyncClient, engine: httpx.AsyncClient) -> None:
        self.ingest, self.engine = ingest, engine

    async def post(self, *events: dict[str, Any]) -> None:
        response = await self.ingest.post("/v1/events", json={"events": list(events)})
        assert response.status_code == 202 and response.json()["accepted"] == len(events), response.text

    async def lead(self, any_id: str, stage: str, score: int) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            response = await self.engine.get(f"/v1/leads/{any_id}")
            body: dict[str, Any] = response.json()
            done = response.status_code == 200 and body["stage"] == stage and body["score"] == score
            return body if done else None

        return await eventually(check, 30, f"lead {any_id} in {stage} with score {score}")


@pytest.fixture
async def stack_(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> AsyncIterator[Stack]:
    await upgrade(settings.database_url, settings.database_schema)
    key = await KeyStore(engine).create("e2e")
    reader = await new_key(engine, "read:leads")
    async with (
        served("ingest", settings, tmp_path / "ingest.log") as ingest_url,
        served("engine", settings, tmp_path / "engine.log", STAGETRACK_CONSUMER_GROUP=unique("g")) as engine_url,
        httpx.AsyncClient(base_url=ingest_url, headers={"authorization": f"Bearer {key}"}) as ingest,
        httpx.AsyncClient(base_url=engine_url, headers=bearer(reader)) as engine_client,
    ):
        yield Stack(ingest, engine_client)


def history(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(t["from_stage"], t["to_stage"], t["rule"]) for t in body["transitions"]]


async def test_the_model_scenario(stack_: Stack) -> None:
    s = stack_
    # Anonymous visits, then a form identifies the visitor: the anonymous history joins the lead's score.
    await s.post(event("page_viewed", anon="a1", path="/blog"), event("page_viewed", anon="a1", path="/pricing/"))
    await s.lead("a1", "visitor", 12)
    await s.post(event("form_submitted", anon="a1", lead="L1", form_id="f", email="one@example.com"))
    one = await s.lead("L1", "lead", 22)
    assert history(one) == [(None, "visitor", "first_seen"), ("visitor", "lead", "identified")]
    assert one["crm_ids"] == ["L1"]

    # A high-intent form goes straight to mql; then IS accepts, a meeting, field sales wins, onboarding.
    await s.post(event("form_submitted", anon="a2", lead="L2", form_id="f", email="two@example.com", intent="high"))
    await s.lead("L2", "mql", 10)
    await s.post(
        event("lead_accepted", lead="L2"),
        event("meeting_scheduled", lead="L2"),
        event("meeting_held", lead="L2"),
        event("opportunity_won", lead="L2", opportunity_id="o2", amount=1_200_000),
        event("onboarding_completed", lead="L2"),
    )
    two = await s.lead("L2", "active", 10)
    assert history(two) == [
        (None, "mql", "high_intent_form"),
        ("mql", "sal", "lead_accepted"),
        ("sal", "sql", "meeting_scheduled"),
        ("sql", "opportunity", "opportunity_opened"),
        ("opportunity", "onboarding", "opportunity_won"),
        ("onboarding", "active", "onboarding_completed"),
    ]
    assert two["division"] == "customer_success"

    # Lost -> nurture -> mql again on a high-intent form.
    await s.post(
        event("form_submitted", lead="L3", form_id="f", email="three@example.com"),
        event("lead_accepted", lead="L3"),
        event("meeting_scheduled", lead="L3"),
        event("opportunity_created", lead="L3", opportunity_id="o3"),
        event("opportunity_lost", lead="L3", opportunity_id="o3", reason="budget"),
        event("form_submitted", lead="L3", form_id="f", email="three@example.com", intent="high"),
    )
    three = await s.lead("L3", "mql", 20)
    assert history(three) == [
        (None, "lead", "identified"),
        ("lead", "sal", "lead_accepted"),
        ("sal", "sql", "meeting_scheduled"),
        ("sql", "opportunity", "opportunity_opened"),
        ("opportunity", "nurture", "opportunity_lost"),
        ("nurture", "mql", "recycled_high_intent_form"),
    ], three

    # Two leads of one person merge: an anonymous visitor and a CRM lead, linked by an identify call.
    await s.post(event("page_viewed", anon="a4", path="/docs"))
    visitor = await s.lead("a4", "visitor", 1)
    await s.post(event("lead_accepted", lead="L4"))
    crm_lead = await s.lead("L4", "sal", 0)
    await s.post(event("identified", anon="a4", lead="L4"))

    async def merged() -> dict[str, Any] | None:
        body: dict[str, Any] = (await s.engine.get("/v1/leads/L4")).json()
        return body if body["merged_from"] else None

    four = await eventually(merged, 30, "the two leads merged")
    assert four["lead_id"] == visitor["lead_id"]  # created first, survives
    assert four["merged_from"] == [crm_lead["lead_id"]]
    assert (four["stage"], four["score"]) == ("sal", 1)  # the stage further along; scores summed once
    assert sorted(history(four)) == sorted([(None, "visitor", "first_seen"), (None, "sal", "lead_accepted")])
    assert (await s.engine.get("/v1/leads/a4")).json()["lead_id"] == visitor["lead_id"]
