"""A subscription filtered on `sources` gets the moments of leads whose value of the model's `source` dimension
(first touch `utm_source`) is listed, and not the others'; the dispatcher keeps each lead's source in PostgreSQL,
so a lead whose source was shown before a restart is still routed by it after."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event
from services.common.settings import ServiceSettings
from services.stage_engine.app.settings import EngineSettings
from tests.integration.dispatch.conftest import (
    Producer,
    dispatch_settings,
    lead_stage,
    now_envelope,
    running_dispatcher,
    running_engine,
    write_subscriptions,
)
from tests.integration.dispatch.receiver import Receiver, serving
from tests.stack import eventually, unique

GOOGLE_MQL = {
    "name": "google-mql",
    "moments": ["stage_entered"],
    "stages": ["mql"],
    "sources": ["google"],
    "endpoints": ["receiver"],
}


def page_view(lead: str, source: str) -> Event:
    return now_envelope("page_viewed", lead, url=f"https://example.com/pricing?utm_source={source}")


def mql_form(lead: str) -> Event:
    return now_envelope("form_submitted", lead, form_id="f", email=f"{lead.lower()}@example.com", intent="high")


async def lead_source(engine: AsyncEngine, lead_crm: str) -> str | None:
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT source FROM dispatch_leads WHERE :crm = ANY(crm_ids)"), {"crm": lead_crm})


async def test_a_source_filter_sends_the_google_leads_move_and_not_the_bing_leads(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [GOOGLE_MQL])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch)
    google, bing, early = unique("L"), unique("L"), unique("L")
    async with serving(receiver), running_engine(engine_settings):
        # First dispatcher: the leads' first touches, and one google lead's move.
        async with running_dispatcher(dispatch):
            await producer.send([page_view(google, "google"), page_view(bing, "bing"), page_view(early, "google")])
            await producer.send([mql_form(early)])
            await eventually(lambda: lead_stage(engine, early, "mql"), 60, "the early google lead's move taken in")
            await eventually(lambda: _some(receiver.delivered()), 30, "the early google lead's webhook")
        # A dispatcher started afresh (same group) routes by the sources the first one stored.
        async with running_dispatcher(dispatch):
            await producer.send([mql_form(bing), mql_form(google)])
            await eventually(lambda: lead_stage(engine, bing, "mql"), 60, "the bing lead's move taken in")
            await eventually(lambda: _some(len(receiver.delivered()) >= 2), 30, "the google lead's webhook")
            # The bing lead's move came first on its own partition; a later google move bounds the wait for it.
            later = unique("L")
            await producer.send([page_view(later, "google"), mql_form(later)])
            await eventually(lambda: _some(len(receiver.delivered()) >= 3), 60, "the later google lead's webhook")

    assert receiver.refused == []
    crm_ids = [r.body["data"]["crm_ids"] for r in receiver.got]
    assert sorted(crm_ids) == sorted([[early], [google], [later]]), crm_ids  # never the bing lead's
    assert {r.body["data"]["source"] for r in receiver.got} == {"google"}
    assert await lead_source(engine, bing) == "bing" and await lead_source(engine, google) == "google"


async def _some(value: object) -> object:
    return value
