"""Identity and encryption at the door: what the ingest publishes of an identified event holds the email's keyed
hash and no personal byte; the fields open under the person's data key, found again by any of their identities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event, decode
from services.common.personal.identity import email_hash
from services.common.personal.person_keys import data_keys
from services.common.personal.sealed_event import opened_properties
from tests.integration.ingest.conftest import Ingest
from tests.stack import consume, unique

AT = "2026-06-01T10:00:00+00:00"


def form(anon: str | None, lead: str | None, email: str, **more: Any) -> dict[str, Any]:
    properties = {"form_id": "demo", "email": email, "intent": "high", **more}
    return {
        "event_id": unique("e"),
        "type": "form_submitted",
        "occurred_at": AT,
        "anonymous_id": anon,
        "lead_id": lead,
        "properties": properties,
    }


async def published(ingest: Ingest, count: int) -> dict[str, Event]:
    records = await consume(ingest.settings, ingest.settings.events_topic, count)
    for record in records:
        for secret in (b"hanako", b"90-1234", b"Yamada", b"taro"):
            assert secret not in record.value.lower()
    return {event.event_id: event for event in (decode(r.value) for r in records)}


async def test_identified_events_are_sealed_under_one_key_per_person(ingest: Ingest, engine: AsyncEngine) -> None:
    first = form("a1", None, "Hanako@example.jp", phone="090-1234-5678", name="Hanako Yamada")
    again = form(None, "L1", "hanako@example.jp", traits={"name": "Hanako Yamada", "company": "Example KK"})
    other = form("a2", "L2", "taro@example.jp", phone="080-1111-2222")
    view = {
        "event_id": unique("e"),
        "type": "page_viewed",
        "occurred_at": AT,
        "anonymous_id": "a1",
        "properties": {"path": "/pricing"},
    }
    response = await ingest.client.post("/v1/events", json={"events": [first, again, other, view]})
    assert response.status_code == 202, response.text

    events = await published(ingest, 4)
    hanako, hanako_again, taro = events[first["event_id"]], events[again["event_id"]], events[other["event_id"]]
    assert hanako.email_hash == email_hash("hanako@example.jp", ingest.settings.hash_key) == hanako_again.email_hash
    assert hanako.properties == {"form_id": "demo", "intent": "high"}  # what rules read stays in clear
    assert events[view["event_id"]].sealed is None and events[view["event_id"]].email_hash is None
    assert hanako.sealed is not None and hanako_again.sealed is not None and taro.sealed is not None
    assert hanako.sealed["key"] == hanako_again.sealed["key"] != taro.sealed["key"]

    async with engine.connect() as conn:
        keys = await data_keys(conn, ingest.settings.master, [hanako.sealed["key"], taro.sealed["key"]])
        identities = set(await conn.execute(text("SELECT kind, value FROM person_key_identities")))
    assert opened_properties(hanako, keys) == (first["properties"], True)
    assert opened_properties(hanako_again, keys)[0]["traits"] == again["properties"]["traits"]
    assert ("crm", "L1") in identities and ("email_hash", hanako.email_hash) in identities


async def test_an_event_naming_two_persons_keys_links_them(ingest: Ingest, engine: AsyncEngine) -> None:
    one = form(None, "L7", "ichiro@example.jp", name="Ichiro")
    two = form(None, "L8", "jiro@example.jp", name="Jiro")
    assert (await ingest.client.post("/v1/events", json={"events": [one, two]})).status_code == 202
    both = form(None, "L8", "ichiro@example.jp", name="Ichiro Jiro")  # L8's CRM record now has L7's email
    assert (await ingest.client.post("/v1/events", json={"events": [both]})).status_code == 202
    events = await published(ingest, 3)
    sealed_under = {e: events[e].sealed["key"] for e in events if events[e].sealed}  # type: ignore[index]
    assert sealed_under[both["event_id"]] in {sealed_under[one["event_id"]], sealed_under[two["event_id"]]}
    async with engine.connect() as conn:
        groups = set((await conn.execute(text("SELECT group_id FROM person_keys"))).scalars())
    assert len(groups) == 1
