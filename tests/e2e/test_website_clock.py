"""A browser whose clock is an hour ahead (Playwright's clock control) runs the real analytics.js on the demo site
against the real ingest: every event lands at the server's time, within a second (Segment's correction,
occurred_at = received_at − (sentAt − timestamp), docs/ingest-validation.md), one post per call and batched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from tests.e2e.browser import SiteConfig, chromium, clock_ahead, page_log, website
from tests.e2e.browser.real_stack import real_stack
from tests.e2e.browser.visits import anonymous_id, visit
from tests.stack import free_port

AHEAD = timedelta(hours=1)
PAGES = ("index.html", "pricing.html", "docs.html")


async def test_a_browser_an_hour_ahead_lands_at_the_servers_time(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    single_port, batching_port = free_port(), free_port()
    async with real_stack(settings, engine, tmp_path) as stack:
        origins = [f"http://127.0.0.1:{port}" for port in (single_port, batching_port)]
        key = (await stack.tracker_key(*origins)).key
        visitors: dict[str, bool] = {}  # anonymous id -> batched
        visited: dict[tuple[bool, str], tuple[datetime, datetime]] = {}  # the server's clock around each visit
        async with chromium() as browser:
            for port, batching in ((single_port, False), (batching_port, True)):
                config = SiteConfig(key, stack.ingest, batching=batching)
                async with website(config, port=port) as site:
                    context = await browser.new_context()
                    await clock_ahead(context, AHEAD)
                    page = await context.new_page()
                    log = page_log(page)
                    for name in PAGES:
                        before = datetime.now(UTC)
                        answer = await visit(page, f"{site}/{name}", "batch" if batching else "page")
                        assert answer.status == 200, (name, await answer.text(), str(log))
                        visited[(batching, f"/{name}")] = (before, datetime.now(UTC))
                    device_now = datetime.fromisoformat(await page.evaluate("() => new Date().toISOString()"))
                    assert abs(device_now - datetime.now(UTC) - AHEAD) < timedelta(seconds=30), device_now
                    visitors[await anonymous_id(page)] = batching
                    await context.close()

        records = await stack.raw_events()
        assert len(records) == 2 * len(PAGES), [r.value for r in records]
        second = timedelta(seconds=1)
        for record in records:
            event = orjson.loads(record.value)
            batched, path = visitors[event["anonymous_id"]], event["properties"]["path"]
            landed, (opened, answered) = datetime.fromisoformat(event["occurred_at"]), visited[(batched, path)]
            # between opening the page and the ingest's answer to its call, by the server's clock (the call waited
            # in the batch for up to a second: the correction puts it back where it was made, not where it arrived)
            assert opened - second < landed < answered + second, (batched, path, opened, landed, answered)
            stored = datetime.fromtimestamp(record.timestamp / 1000, UTC)  # when the ingest produced it
            assert timedelta(0) <= stored - landed < (1.5 if batched else 1) * second, (batched, path, landed, stored)
