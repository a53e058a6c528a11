"""Headless chromium for the website tests, and what a test needs around a page: its clock, its log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.e2e.browser.tools import browser_tools

CHROMIUM_ARGS = (
    "--no-sandbox",  # runs as root here
    "--disable-gpu",
    "--disable-background-networking",
    # Nothing leaves the machine: every host name but loopback fails to resolve. A library that would phone home
    # (analytics.js posts its load errors to api.segment.io) shows as a failed request in the page's log instead.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)
LOOPBACK = ("127.0.0.1", "localhost")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's chromium (/usr/bin/chromium, installed by deploy/local/browser.sh where missing), headless.

    No route interception here on purpose: while a route is set, Playwright answers CORS preflights itself,
    so the server under test would never see them. Observe requests with `page_log` or at the server."""
    tools = browser_tools()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(tools.chromium), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def clock_ahead(target: Page | BrowserContext, ahead: timedelta) -> None:
    """The browser's clock (Date and timers) runs at normal speed from now + `ahead`, for every page of the
    context and across navigations. Call it before the first `goto`."""
    await target.clock.install(time=datetime.now(UTC) + ahead)


@dataclass
class PageLog:
    """What a page did, for assertions and for failure messages: console errors, every request's
    method and URL, failed requests with the reason."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def off_machine(self) -> list[str]:
        """Requests to any host but loopback (each fails to resolve; see CHROMIUM_ARGS)."""
        return [r for r in self.requests if urlsplit(r.split(" ", 1)[1]).hostname not in LOOPBACK]

    def __str__(self) -> str:
        lines = [f"console error: {e}" for e in self.console_errors] + [f"failed: {f}" for f in self.failed]
        return "\n".join(lines) or "(no console errors, no failed requests)"


def page_log(page: Page) -> PageLog:
    log = PageLog()
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: log.requests.append(f"{r.method} {r.url}"))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.method} {r.url}: {r.failure}"))
    return log
