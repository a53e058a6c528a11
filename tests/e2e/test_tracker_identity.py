"""A web page's tracker key through the whole path (ingest and engine as real processes): a visitor's page view
naming a CRM lead is refused without the site's identity-verification hash, and with it the anonymous visitor is
stitched onto that lead; the tracker key cannot post revenue, and a read key cannot post at all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.api_keys import lead_id_hash
from services.common.keys import KeyStore
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.keys import bearer, new_key
from tests.stack import eventually, served, unique


def page_view(cookie: str, **fields: Any) -> dict[str, Any]:
    base = {"event_id": str(uuid.uuid4()), "type": "page_viewed", "occurred_at": "2026-10-01T09:00:00+00:00"}
    return {**base, "anonymous_id": cookie, "properties": {"path": "/pricing"}, **fields}


@pytest.fixture
async def urls(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    await upgrade(settings.database_url, settings.database_schema)
    async with (
        served("ingest", settings, tmp_path / "ingest.log") as ingest_url,
        served("engine", settings, tmp_path / "engine.log", STAGETRACK_CONSUMER_GROUP=unique("g")) as engine_url,
    ):
        yield ingest_url, engine_url


async def test_a_verified_lead_id_stitches_the_visitor_and_an_unverified_one_is_refused(
    urls: tuple[str, str], engine: AsyncEngine
) -> None:
    ingest_url, engine_url = urls
    tracker = await KeyStore(engine).create_key("site", ("tracker",), ("https://www.example.jp",))
    assert tracker.lead_id_secret is not None
    cookie, crm_lead = unique("cookie"), unique("crm-lead")
    reader = await new_key(engine, "read:leads", "read:kpi")
    async with (
        httpx.AsyncClient(base_url=ingest_url, headers=bearer(tracker.key)) as site,
        httpx.AsyncClient(base_url=engine_url, headers=bearer(reader)) as engine_api,
    ):
        response = await site.post("/v1/events", json=page_view(cookie, lead_id=crm_lead))
        assert response.status_code == 403 and response.json()["errors"][0]["field"] == "lead_id", response.text
        won = {**page_view(cookie), "type": "opportunity_won", "lead_id": crm_lead}
        won["properties"] = {"opportunity_id": "o-1", "amount": "990000", "currency": "JPY"}
        response = await site.post("/v1/events", json=won)
        assert response.status_code == 403 and "a tracker key may not send opportunity_won" in response.text
        response = await site.post("/v1/events", json=page_view(cookie), headers=bearer(reader))
        assert response.status_code == 403 and "may not post events" in response.text

        signed = page_view(cookie, lead_id=crm_lead, lead_id_hash=lead_id_hash(tracker.lead_id_secret, crm_lead))
        response = await site.post("/v1/events", json=signed)
        assert response.status_code == 202, response.text

        async def stitched() -> dict[str, Any] | None:
            response = await engine_api.get(f"/v1/leads/{cookie}")
            body: dict[str, Any] = response.json()
            return body if response.status_code == 200 and body["crm_ids"] == [crm_lead] else None

        lead = await eventually(stitched, 30, f"visitor {cookie} stitched onto {crm_lead}")
        assert lead["stage"] == "visitor"  # a page view moves no stage; the refused opportunity_won never arrived
