"""A visitor becomes a lead on the demo site (examples/website), in headless chromium with Segment's analytics.js
unchanged, against the real ingest, engine and KPI service: the pages read before the form join the lead, the
KPI counts the one visitor→lead move, and Kafka keeps nothing that identifies the anonymous visitor. A visitor
the site's server knows (a verified CRM id, docs/security.md) lands on that CRM lead."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.api_keys import lead_id_hash
from services.common.settings import ServiceSettings
from tests.e2e.browser import SiteConfig, chromium, page_log, website
from tests.e2e.browser.real_stack import real_stack
from tests.e2e.browser.visits import anonymous_id, follow, send_contact_form, visit
from tests.stack import free_port, unique

EMAIL = "hanako.yamada@example.co.jp"
# The visitor arrives from a newsletter link that also carries their address (as some mail tools add it), found
# by a search for their own name: the UTM parameters are kept, the address and the search are not.
LANDING = "index.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring&email=hanako.yamada%40example.co.jp"
SEARCH = "https://www.google.com/search?q=hanako+yamada+invoices"
READ = ("/index.html", "/pricing.html", "/docs.html")  # read anonymously; then /contact.html and its form


def views(lead: dict[str, Any], phase: str) -> dict[str, int]:
    return {row["path"]: row["views"] for row in lead["activity"][phase]["page_views"]["top"]}


async def test_an_anonymous_visitor_becomes_a_lead_with_the_pages_read_before(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    port = free_port()
    # "localhost": the site's URLs carry no 127.0.0.1, so that address in Kafka could only be the visitor's
    origin = f"http://localhost:{port}"
    async with real_stack(settings, engine, tmp_path) as stack:
        key = await stack.tracker_key(origin)
        async with website(SiteConfig(key.key, stack.ingest), "localhost", port) as site, chromium() as browser:
            page = await browser.new_page()
            log = page_log(page)
            answers = [await visit(page, f"{site}/{LANDING}", referer=SEARCH)]
            for href in ("pricing.html", "docs.html", "contact.html"):  # the visitor follows the site's links
                answers.append(await follow(page, href))
            for answer in answers:
                assert answer.status == 200, (answer.url, answer.status, await answer.text(), str(log))
            identify, track = await send_contact_form(page, EMAIL, "Yamada Shokai")
            assert (identify.status, track.status) == (200, 200), (await identify.text(), await track.text())
            visitor = await anonymous_id(page)
            user_agent = await page.evaluate("() => navigator.userAgent")
            assert log.off_machine() == [], log.off_machine()

        lead = await stack.lead(
            visitor,
            lambda body: body["stage"] == "lead" and body["score"] == 14,
            45,
            f"the visitor {visitor} a lead with 4 page views and the form scored",
        )
        transitions = [(t["from_stage"], t["to_stage"], t["rule"]) for t in lead["transitions"]]
        assert transitions == [(None, "visitor", "first_seen"), ("visitor", "lead", "identified")], transitions
        activity = lead["activity"]
        assert activity["identified_by"] == "email_hash" and activity["identified_at"] is not None
        assert views(lead, "before_identification") == {**dict.fromkeys(READ, 1), "/contact.html": 1}
        assert activity["since_identification"]["page_views"]["views"] == 0
        touch = lead["campaigns"]["first_touch"]
        assert (touch["campaign"], touch["source"], touch["medium"]) == ("spring", "newsletter", "email"), touch
        rules = Counter(change["rule"] for change in lead["score_history"]["shown"])
        assert rules == {"page_viewed": 4, "form_submitted": 1}, rules

        # the KPI: one visitor→lead move, counted once (identify and the form both identify the visitor)
        await stack.kpi_caught_up(45)
        stages = await stack.stages()
        assert stages["visitor"]["inflow"] == 1 and stages["lead"]["inflow"] == 1, stages
        assert stages["visitor"]["outflow"] == {"total": 1, "by_destination": {"lead": 1}}

        # Kafka: the anonymous events keep no IP, no user agent, no email (docs/privacy.md)
        records = await stack.raw_events()
        events = [orjson.loads(r.value) for r in records]
        assert Counter(e["type"] for e in events) == {"page_viewed": 4, "identified": 1, "form_submitted": 1}
        for record, event in zip(records, events, strict=True):
            stored = record.value + b"".join(v for _, v in record.headers or ())
            assert b"127.0.0.1" not in stored and user_agent.encode() not in stored, event
            assert b"HeadlessChrome" not in stored and b"Mozilla" not in stored, event
            if event["type"] == "page_viewed":
                assert event["anonymous_id"] == visitor and event["lead_id"] is None
                assert b"hanako" not in stored.lower() and b"%40" not in stored, event
        by_path = {e["properties"]["path"]: e["properties"] for e in events if e["type"] == "page_viewed"}
        landing = by_path["/index.html"]
        assert landing["url"] == f"{origin}/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
        assert landing["referrer"] == "https://www.google.com/", landing  # the search engine, not the search
        assert by_path["/docs.html"]["referrer"] == f"{origin}/", by_path  # the site, not the page
        assert b"invoices" not in b"".join(r.value for r in records)


async def test_a_visitor_the_site_verified_lands_on_its_crm_lead(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    port, crm_lead = free_port(), unique("crm")
    origin = f"http://127.0.0.1:{port}"
    async with real_stack(settings, engine, tmp_path) as stack:
        key = await stack.tracker_key(origin)
        assert key.lead_id_secret is not None
        # what the site's server renders into the page for a visitor it knows: the CRM id and its hash
        signed = SiteConfig(
            key.key, stack.ingest, lead_id=crm_lead, lead_id_hash=lead_id_hash(key.lead_id_secret, crm_lead)
        )
        async with website(signed, port=port) as site, chromium() as browser:
            page = await browser.new_page()
            log = page_log(page)
            for path in ("index.html", "pricing.html", "contact.html"):
                answer = await visit(page, f"{site}/{path}")
                assert answer.status == 200, (path, answer.status, await answer.text(), str(log))
            identify, track = await send_contact_form(page, EMAIL)
            assert (identify.status, track.status) == (200, 200), (await identify.text(), await track.text())
            sent = orjson.loads(identify.request.post_data or "{}")
            assert sent["userId"] == crm_lead and sent["context"]["stagetrack"]["lead_id_hash"], sent
            # later pages carry the userId (analytics.js keeps it) and so the hash too (site.js' middleware)
            answer = await visit(page, f"{site}/docs.html")
            assert answer.status == 200, await answer.text()
            visitor = await anonymous_id(page)

        lead = await stack.lead(
            visitor,
            lambda body: (
                body["crm_ids"] == [crm_lead] and body["activity"]["since_identification"]["page_views"]["views"] == 1
            ),
            45,
            f"the visitor {visitor} on the CRM lead {crm_lead} with a page read since",
        )
        assert lead["stage"] == "lead", lead["transitions"]
        assert views(lead, "before_identification") == {"/index.html": 1, "/pricing.html": 1, "/contact.html": 1}
        assert views(lead, "since_identification") == {"/docs.html": 1}
        by_crm_id = await stack.lead(crm_lead, lambda body: True, 10, f"the lead by its CRM id {crm_lead}")
        assert by_crm_id["lead_id"] == lead["lead_id"]

        stored = [orjson.loads(r.value) for r in await stack.raw_events()]
        assert all(b"lead_id_hash" not in orjson.dumps(e) for e in stored)  # checked, then dropped
        assert {
            e["lead_id"] for e in stored if e["type"] != "page_viewed" or e["properties"]["path"] == "/docs.html"
        } == {crm_lead}
