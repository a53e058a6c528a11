"""The demo site served from an origin its tracker key does not list: the real ingest refuses the browser (403,
no CORS headers), analytics.js sends nothing, a post made anyway is refused too, and nothing is stored. The same
page at an origin the key lists lands (the control: the refusal is the origin's, not the set-up's)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from tests.e2e.browser import PageLog, SiteConfig, chromium, page_log, website
from tests.e2e.browser.real_stack import RealStack, real_stack
from tests.e2e.browser.visits import anonymous_id, visit
from tests.stack import eventually, free_port

NOTHING_FOR = 8.0  # seconds the topic and the lead view are watched for anything from the refused page

# A library that posts anyway (or a script copying the key): one call, the key in the body and as Basic user.
POST_ANYWAY = """async ([ingest, key]) => {
  const body = JSON.stringify({type: "page", anonymousId: "refused-visitor", messageId: "refused-1", writeKey: key,
                               properties: {path: "/index.html"}});
  try {
    await fetch(ingest + "/v1/p", {method: "POST", body, headers: {"Content-Type": "text/plain",
                                                                    "Authorization": "Basic " + btoa(key + ":")}});
    return "read the answer";
  } catch (error) { return String(error); }
}"""


async def library_gave_up(log: PageLog, pages: int) -> None:
    """analytics.js logged that it could not load (its settings refused) on `pages` pages."""

    async def check() -> bool:
        return sum("Failed to load Analytics.js" in e for e in log.console_errors) >= pages

    await eventually(check, 30, f"analytics.js giving up on {pages} page(s)")


async def refusals_counted(stack: RealStack) -> Counter[tuple[str, str]]:
    """The ingest's answers once it counted the two settings requests and the post (it counts each answer just
    after sending it, so the page may have seen it a moment earlier)."""

    async def check() -> Counter[tuple[str, str]] | None:
        answered = await stack.ingest_answers()
        return answered if answered[("GET", "403")] >= 2 and answered[("POST", "403")] >= 1 else None

    return await eventually(check, 30, "the ingest counting its 403 answers")


async def nothing_stored(stack: RealStack, within: float) -> None:
    """Watches the events topic and the lead view of the post made anyway until the deadline: nothing comes."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert await stack.raw_events() == [], "the refused page's calls were stored"
        response = await stack.engine_api.get("/v1/leads/refused-visitor")
        assert response.status_code == 404, response.text
        await asyncio.sleep(0.2)


async def test_a_page_at_an_origin_the_key_does_not_list_stores_nothing(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    allowed_port, refused_port = free_port(), free_port()
    async with real_stack(settings, engine, tmp_path) as stack:
        key = (await stack.tracker_key(f"http://127.0.0.1:{allowed_port}")).key
        config = SiteConfig(key, stack.ingest)
        async with chromium() as browser, website(config, port=refused_port) as refused:
            page = await browser.new_page()
            log = page_log(page)
            for number, name in enumerate(("index.html", "pricing.html"), start=1):
                await page.goto(f"{refused}/{name}")
                await library_gave_up(log, number)  # its settings kept from the page: it sends nothing
            failed = await page.evaluate(POST_ANYWAY, [stack.ingest, key])
            assert failed.startswith("TypeError"), failed  # the browser kept the answer from the page ...
            answered = await refusals_counted(stack)  # ... which the ingest refused, as the settings before it
            assert (answered[("GET", "403")], answered[("POST", "403")]) == (2, 1), answered
            assert not [a for a in answered if a[0] == "POST" and a[1] != "403"], answered
            settings_url = f"{stack.ingest}/v1/projects/{key}/settings"
            assert sum(f.startswith(f"GET {settings_url}:") for f in log.failed) == 2, str(log)
            # analytics.js itself posted nothing to the ingest (only its error counter, to api.segment.io: unresolvable)
            posts = [r for r in log.requests if r.startswith(f"POST {stack.ingest}/")]
            assert posts == [f"POST {stack.ingest}/v1/p"], (posts, str(log))
            await nothing_stored(stack, NOTHING_FOR)

            async with website(config, port=allowed_port) as allowed:
                page = await browser.new_page()
                answer = await visit(page, f"{allowed}/index.html")
                assert answer.status == 200, await answer.text()
                visitor = await anonymous_id(page)
        await stack.lead(visitor, lambda body: body["stage"] == "visitor", 45, "the allowed origin's visitor")
        assert len(await stack.raw_events()) == 1
