"""The browser harness for the website tests: Debian's chromium driven by Playwright (never `playwright install`),
examples/website served on a free port with its own config.js, the browser's clock moved, and a recording stand-in
for the ingest's website side. What analytics.js sends, and so what these serve: docs/website.md.

    async with recording_ingest(key) as ingest, website(SiteConfig(key, ingest.url)) as site, chromium() as browser:
        ingest.allow_origin(site)
        page = await browser.new_page()
        await page.goto(f"{site}/index.html")
        await ingest.wait_for(lambda seen: ingest.calls("page") or None, 15, "a page call")

Against the real services instead: `real_stack.real_stack` (ingest, engine and KPI as processes, keys, the lead view,
the KPI, the raw topic) and `visits` (a visitor's steps, each waiting for the ingest's answers).
"""

from tests.e2e.browser.chromium import CHROMIUM_ARGS, PageLog, chromium, clock_ahead, page_log
from tests.e2e.browser.recorder import AnalyticsRecorder, Recorded, minimal_settings, recording_ingest
from tests.e2e.browser.site import SITE_DIR, SiteConfig, website
from tests.e2e.browser.tools import BrowserTools, browser_tools

__all__ = [
    "CHROMIUM_ARGS",
    "SITE_DIR",
    "AnalyticsRecorder",
    "BrowserTools",
    "PageLog",
    "Recorded",
    "SiteConfig",
    "browser_tools",
    "chromium",
    "clock_ahead",
    "minimal_settings",
    "page_log",
    "recording_ingest",
    "website",
]
