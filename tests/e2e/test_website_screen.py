"""An app's screens through Segment's own Python SDK (segment-analytics-python, as a mobile SDK posts them) with a
tracker key, against the real ingest and engine: the `screen` calls are accepted and the lead view counts them,
before and since the person identified."""

from __future__ import annotations

import asyncio
from pathlib import Path

import segment.analytics as segment_analytics
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from tests.e2e.browser.real_stack import real_stack
from tests.stack import unique


def screens(lead: dict[str, object], phase: str) -> dict[str, int]:
    found = lead["activity"][phase]["screen_views"]  # type: ignore[index]
    return {row["name"]: row["views"] for row in found["top"]}


async def test_screen_calls_from_segments_python_sdk_appear_in_the_leads_activity(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    async with real_stack(settings, engine, tmp_path) as stack:
        key = (await stack.tracker_key(source="app")).key  # an app's write key: no browser, no origin
        errors: list[Exception] = []
        client = segment_analytics.Client(
            write_key=key, host=stack.ingest, sync_mode=True, max_retries=1, on_error=lambda e, _: errors.append(e)
        )
        device = unique("device")

        def use_the_app() -> None:
            client.screen(anonymous_id=device, name="Pricing", category="Plans", properties={"plan": "team"})
            client.screen(anonymous_id=device, name="Pricing", category="Plans")
            client.screen(anonymous_id=device, name="Checkout")
            client.identify(anonymous_id=device, traits={"email": "taro@example.co.jp"})
            client.screen(anonymous_id=device, name="Settings")
            client.flush()

        await asyncio.to_thread(use_the_app)
        assert errors == []

        lead = await stack.lead(
            device,
            lambda body: body["activity"]["since_identification"]["screen_views"]["views"] == 1,
            45,
            f"the app user {device} with a screen seen since identifying",
        )
        assert screens(lead, "before_identification") == {"Pricing": 2, "Checkout": 1}
        assert screens(lead, "since_identification") == {"Settings": 1}
        assert lead["activity"]["before_identification"]["page_views"]["views"] == 0
        assert lead["stage"] == "lead" and lead["score"] == 4  # each screen scores as a page view (the model)
        assert [c["rule"] for c in lead["score_history"]["shown"]] == ["screen_viewed"] * 4
        assert {c["event"]["type"] for c in lead["score_history"]["shown"]} == {"screen_viewed"}
