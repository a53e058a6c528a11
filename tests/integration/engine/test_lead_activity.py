"""GET /v1/leads/{id} shows what the person did before and since identification, the campaigns that brought
them and the score's itemised changes, from envelopes the engine consumed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.adapters.activity_statement import ACTIVITY_KEYS_PER_LEAD
from tests.integration.engine.conftest import Producer, envelope
from tests.stack import eventually

UTM = "https://www.example.test{path}?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"


async def lead_once(client: httpx.AsyncClient, any_id: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/v1/leads/{any_id}")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and ready(body) else None

    return await eventually(check, 30, f"lead {any_id} as expected")


def top(group: dict[str, Any], label: str = "path") -> list[tuple[str, int]]:
    return [(entry[label], entry["views"]) for entry in group["top"]]


async def test_views_before_and_since_identification_campaigns_and_score_items(
    producer: Producer, engine_client: httpx.AsyncClient
) -> None:
    blog = UTM.format(path="/blog", source="google", medium="cpc", campaign="spring")
    await producer.send(
        [
            envelope("v1", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="x1", path="/blog", url=blog),
            envelope(
                "v2", "page_viewed", "2026-10-01T09:05:00+09:00", anonymous_id="x1", path="/pricing", campaign="launch"
            ),
            envelope("v3", "page_viewed", "2026-10-01T09:10:00+00:00", anonymous_id="x1", path="/blog"),
        ]
    )
    await lead_once(engine_client, "x1", lambda b: b["score"] == 13)
    await producer.send(
        [
            envelope(
                "f1", "form_submitted", "2026-10-02T09:00:00+00:00", anonymous_id="x1", form_id="demo", email="x@a.test"
            ),
            envelope("v4", "page_viewed", "2026-10-02T10:00:00+00:00", anonymous_id="x1", path="/pricing"),
            envelope("v5", "page_viewed", "2026-10-02T10:05:00+00:00", anonymous_id="x1", path="/docs"),
        ]
    )
    body = await lead_once(engine_client, "x1", lambda b: b["score"] == 35)

    activity = body["activity"]
    assert activity["identified_by"] == "email_hash"
    assert activity["identified_at"] == "2026-10-02T09:00:00+00:00"
    before = activity["before_identification"]
    assert top(before["page_views"]) == [("/blog", 2), ("/pricing", 1)]
    assert before["page_views"]["views"] == 3 and before["page_views"]["paths"] == 2
    assert before["first_seen"] == "2026-10-01T00:05:00+00:00"  # 09:05 in +09:00, the earliest event time
    assert before["last_seen"] == "2026-10-01T09:10:00+00:00"
    since = activity["since_identification"]["page_views"]
    assert top(since) == [("/docs", 1), ("/pricing", 1)]  # equal views: the latest seen first
    assert since["beyond_top"] == {"paths": 0, "views": 0} and since["not_itemised_views"] == 0
    assert activity["since_identification"]["screen_views"]["views"] == 0

    campaigns = body["campaigns"]
    assert campaigns["first_touch"] == {
        "campaign": "launch",
        "source": None,
        "medium": None,
        "at": "2026-10-01T00:05:00+00:00",
    }
    assert campaigns["last_touch"]["campaign"] == "spring"
    assert (campaigns["last_touch"]["source"], campaigns["last_touch"]["medium"]) == ("google", "cpc")
    assert [c["campaign"] for c in campaigns["campaigns"]] == ["launch", "spring"]
    assert campaigns["views"] == 2

    history = body["score_history"]
    assert history["score"] == body["score"] == 35
    assert history["changes"] == 6 and history["before_shown"] == {"changes": 0, "points": 0}
    items = [(c["rule"], c["points"], c["event"]["event_id"], c["event"]["type"]) for c in history["shown"]]
    assert items == [
        ("page_viewed", 1, "v1", "page_viewed"),
        ("pricing_page_viewed", 11, "v2", "page_viewed"),
        ("page_viewed", 1, "v3", "page_viewed"),
        ("form_submitted", 10, "f1", "form_submitted"),
        ("pricing_page_viewed", 11, "v4", "page_viewed"),
        ("page_viewed", 1, "v5", "page_viewed"),
    ]
    assert history["shown"][3]["event"]["occurred_at"] == "2026-10-02T09:00:00+00:00"


async def test_a_merged_device_brings_its_views_and_score_changes(
    producer: Producer, engine_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await producer.send(
        [
            envelope("m1", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="laptop", path="/blog"),
            envelope("m2", "page_viewed", "2026-10-01T10:00:00+00:00", anonymous_id="phone", path="/pricing"),
            envelope("m3", "form_submitted", "2026-10-02T09:00:00+00:00", anonymous_id="laptop", email="m@a.test"),
        ]
    )
    await lead_once(engine_client, "laptop", lambda b: b["score"] == 11)
    await producer.send(
        [envelope("m4", "form_submitted", "2026-10-03T09:00:00+00:00", anonymous_id="phone", email="m@a.test")]
    )
    body = await lead_once(engine_client, "phone", lambda b: len(b["merged_from"]) == 1)
    assert body["score"] == 1 + 11 + 10 + 10
    before = body["activity"]["before_identification"]["page_views"]
    assert top(before) == [("/blog", 1), ("/pricing", 1)] or top(before) == [("/pricing", 1), ("/blog", 1)]
    history = body["score_history"]
    assert sum(c["points"] for c in history["shown"]) == body["score"]
    assert {c["lead_id"] for c in history["shown"]} == {body["lead_id"], *body["merged_from"]}
    async with engine.connect() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM lead_activity WHERE lead_id = ANY(:ids)"), {"ids": body["merged_from"]}
        )
    assert left == 0  # the absorbed lead's counters moved to the survivor


async def test_stored_paths_are_capped_per_lead_and_the_view_shows_the_top(
    producer: Producer, engine_client: httpx.AsyncClient
) -> None:
    extra = 5
    paths = ["/p000", *(f"/p{n:03}" for n in range(ACTIVITY_KEYS_PER_LEAD + extra))]  # /p000 twice
    first = [
        envelope(f"c{n}", "page_viewed", f"2026-10-01T09:{n % 60:02}:00+00:00", anonymous_id="crawler", path=p)
        for n, p in enumerate(paths)
    ]
    await producer.send(first)
    await lead_once(
        engine_client, "crawler", lambda b: b["activity"]["before_identification"]["page_views"]["views"] == len(paths)
    )
    later = [
        envelope(f"d{n}", "page_viewed", "2026-10-02T09:00:00+00:00", anonymous_id="crawler", path=p)
        for n, p in enumerate(["/p000", "/new-1", "/new-2", "/new-3"])
    ]
    await producer.send(later)
    body = await lead_once(
        engine_client,
        "crawler",
        lambda b: b["activity"]["before_identification"]["page_views"]["views"] == len(paths) + len(later),
    )
    pages = body["activity"]["before_identification"]["page_views"]
    assert pages["paths"] == ACTIVITY_KEYS_PER_LEAD
    assert pages["not_itemised_views"] == extra + 3
    assert pages["top"][0] == {
        "path": "/p000",
        "views": 3,
        "first_seen": "2026-10-01T09:00:00+00:00",
        "last_seen": "2026-10-02T09:00:00+00:00",
    }
    assert len(pages["top"]) == 20
    assert pages["beyond_top"] == {"paths": ACTIVITY_KEYS_PER_LEAD - 20, "views": ACTIVITY_KEYS_PER_LEAD - 20}


async def test_screen_views_count_by_name(producer: Producer, engine_client: httpx.AsyncClient) -> None:
    await producer.send(
        [
            envelope("s1", "screen_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="app1", name="Home"),
            envelope("s2", "screen_viewed", "2026-10-01T09:01:00+00:00", anonymous_id="app1", name="Pricing"),
            envelope("s3", "screen_viewed", "2026-10-01T09:02:00+00:00", anonymous_id="app1", name="Home"),
        ]
    )
    body = await lead_once(
        engine_client, "app1", lambda b: b["activity"]["before_identification"]["screen_views"]["views"] == 3
    )
    screens = body["activity"]["before_identification"]["screen_views"]
    assert top(screens, "name") == [("Home", 2), ("Pricing", 1)]
    assert body["activity"]["before_identification"]["first_seen"] == "2026-10-01T09:00:00+00:00"


async def test_a_merge_keeps_the_cap_the_survivors_rows_first(
    producer: Producer, engine_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    each = 150
    views = [
        envelope(f"{device}{n}", "page_viewed", at, anonymous_id=device, path=f"/{device}/{n:03}")
        for device, at in (("d1", "2026-10-01T09:00:00+00:00"), ("d2", "2026-10-01T10:00:00+00:00"))
        for n in range(each)
    ]
    await producer.send(views)
    for device in ("d1", "d2"):
        await lead_once(
            engine_client, device, lambda b: b["activity"]["before_identification"]["page_views"]["views"] == each
        )
    await producer.send(
        [
            envelope("link2", "identified", "2026-10-02T09:00:00+00:00", anonymous_id="d2", lead_id="C-d"),
            envelope("link1", "identified", "2026-10-02T09:01:00+00:00", anonymous_id="d1", lead_id="C-d"),
        ]
    )
    body = await lead_once(engine_client, "d2", lambda b: len(b["merged_from"]) == 1)
    pages = body["activity"]["before_identification"]["page_views"]
    assert pages["views"] == 2 * each
    assert pages["paths"] == ACTIVITY_KEYS_PER_LEAD
    assert pages["not_itemised_views"] == 2 * each - ACTIVITY_KEYS_PER_LEAD
    assert body["activity"]["identified_by"] == "crm"
    async with engine.connect() as conn:
        kept = await conn.execute(
            text("SELECT split_part(key, '/', 2), count(*) FROM lead_activity WHERE lead_id = :i GROUP BY 1"),
            {"i": body["lead_id"]},
        )
    # the survivor's own rows first, then the absorbed lead's (all viewed once: by path)
    assert dict(kept.all()) == {"d1": each, "d2": ACTIVITY_KEYS_PER_LEAD - each, "": 1}
