"""A visitor's steps on the demo site against a real ingest, each waiting for the ingest's answers to the calls it
makes (so no call is cut short by the next navigation: docs/website.md, "Leaving the page")."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.async_api import Page, Response

CALL_PATHS = {"page": "/v1/p", "identify": "/v1/i", "track": "/v1/t", "batch": "/v1/b"}
WAIT_MS = 30_000  # the machine is shared: generous


def _post_to(path: str) -> Callable[[Response], bool]:
    return lambda r: r.request.method == "POST" and urlsplit(r.url).path == path


async def visit(page: Page, url: str, call: str = "page", referer: str | None = None) -> Response:
    """Opens `url` (as if from a link on `referer`) and returns the ingest's answer to the page's call (`batch`
    for a batching site)."""
    async with page.expect_response(_post_to(CALL_PATHS[call]), timeout=WAIT_MS) as answer:
        await page.goto(url, referer=referer)
    return await answer.value


async def follow(page: Page, href: str) -> Response:
    """Clicks the page's link to `href` (the header's menu) and returns the ingest's answer to the next page's call."""
    async with page.expect_response(_post_to(CALL_PATHS["page"]), timeout=WAIT_MS) as answer:
        await page.click(f"header a[href='{href}']")
    return await answer.value


async def send_contact_form(page: Page, email: str, company: str = "") -> tuple[Response, Response]:
    """Fills and sends the form of the contact page (open already); returns the answers to identify and track."""
    await page.fill("#email", email)
    if company:
        await page.fill("#company", company)
    async with (
        page.expect_response(_post_to(CALL_PATHS["identify"]), timeout=WAIT_MS) as identify,
        page.expect_response(_post_to(CALL_PATHS["track"]), timeout=WAIT_MS) as track,
    ):
        await page.click("button[type=submit]")
    return await identify.value, await track.value


async def anonymous_id(page: Page) -> str:
    """The visitor's anonymous id as analytics.js keeps it (once the library has loaded)."""
    found = await page.evaluate(
        "() => new Promise(done => window.analytics.ready(() => done(window.analytics.user().anonymousId())))"
    )
    assert isinstance(found, str) and found, found
    return found
