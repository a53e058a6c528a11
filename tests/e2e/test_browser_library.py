"""The browser harness itself: Segment's analytics.js (the npm standalone bundle, unchanged) loads in headless
chromium from the demo site, and what it sends is seen — three page views, then the contact form's identify
and track — with the browser's clock an hour ahead, as the clock-skew tests will set it. The ingest is played by
the harness's recorder; the tests against the real ingest build on the same helpers (tests/e2e/browser)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from tests.e2e.browser import chromium, clock_ahead, page_log, recording_ingest, website
from tests.e2e.browser.recorder import Recorded
from tests.e2e.browser.site import SiteConfig
from tests.stack import unique

PAGES = ("index.html", "pricing.html", "docs.html")


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _posted(seen: list[Recorded], call: dict[str, Any]) -> Recorded:
    return next(r for r in seen if r.method == "POST" and call["messageId"].encode() in r.body)


async def test_analytics_js_in_chromium_sends_the_demo_sites_calls() -> None:
    key = unique("wk")
    async with recording_ingest(key) as ingest, website(SiteConfig(key, ingest.url)) as site, chromium() as browser:
        ingest.allow_origin(site)
        context = await browser.new_context()
        await clock_ahead(context, timedelta(hours=1))
        page = await context.new_page()
        log = page_log(page)

        for number, name in enumerate((*PAGES, "contact.html"), start=1):
            await page.goto(f"{site}/{name}")
            await ingest.wait_for_calls("page", number, 15, f"the page call of {name}", log)
        await page.fill("#email", "visitor@example.com")
        await page.click("button[type=submit]")
        await page.locator("#thanks").wait_for()
        await ingest.wait_for_calls("track", 1, 15, "Form Submitted", log)

        seen = ingest.seen()
        pages, [identify], [track] = ingest.calls("page"), ingest.calls("identify"), ingest.calls("track")
        assert [p["properties"]["path"] for p in pages] == [f"/{name}" for name in (*PAGES, "contact.html")]
        assert identify["traits"]["email"] == "visitor@example.com" and not identify.get("userId")
        assert track["event"] == "Form Submitted" and track["properties"]["form_id"] == "contact"
        assert track["properties"]["email"] == "visitor@example.com"
        calls = [*pages, identify, track]
        assert {c["anonymousId"] for c in calls} == {pages[0]["anonymousId"]}, "one visitor throughout"
        assert all(c["writeKey"] == key and c["context"]["library"]["name"] == "analytics.js" for c in calls)

        # the bundle came from the CDN path, the settings by CORS from the site's origin
        assert any(r.path == f"/analytics.js/v1/{key}/analytics.min.js" for r in seen)
        settings = [r for r in seen if r.path == f"/v1/projects/{key}/settings"]
        assert settings and all(r.headers["origin"] == site for r in settings)
        # each call a text/plain post with the key as Basic user, after a preflight asking for Authorization
        basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        for call in calls:
            post = _posted(seen, call)
            assert post.path == "/v1/" + call["type"][0], post.path
            assert (post.headers["content-type"], post.headers["authorization"]) == ("text/plain", basic)
            assert post.headers["origin"] == site
        preflights = [r for r in seen if r.method == "OPTIONS"]
        assert preflights and all("authorization" in r.headers["access-control-request-headers"] for r in preflights)

        # the browser's clock runs an hour ahead: timestamp and sentAt both carry it, their difference does not
        for call in calls:
            skew = _at(call["sentAt"]) - _posted(seen, call).at
            assert 3590 < skew < 3610, (call["type"], call["sentAt"], skew)
            assert 0 <= _at(call["sentAt"]) - _at(call["timestamp"]) < 30
        assert log.off_machine() == [], log.off_machine()
        await context.close()
