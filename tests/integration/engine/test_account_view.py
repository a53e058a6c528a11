"""GET /v1/accounts/{id}: the people whose account is the account now, each with their stage; a person who
moved to another account is not in its group; a merged person appears once; unknown accounts are 404."""

from __future__ import annotations

from typing import Any

import httpx
from msgspec.structs import replace

from tests.integration.engine.conftest import Producer, envelope
from tests.stack import eventually


def at(hour: int) -> str:
    return f"2026-10-01T{hour:02d}:00:00+00:00"


async def group_of(client: httpx.AsyncClient, account: str, size: int) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/v1/accounts/{account}")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and len(body["people"]) == size else None

    return await eventually(check, 30, f"account {account} with {size} people")


async def test_the_buying_group_with_each_persons_stage(producer: Producer, engine_client: httpx.AsyncClient) -> None:
    await producer.send(
        [
            replace(envelope("a1", "lead_accepted", at(1), lead_id="crm-a", owner="sato"), account_id="acme"),
            envelope("a2", "meeting_scheduled", at(2), lead_id="crm-a", owner="sato"),
            # a cookie with the account, then a form that makes it a lead and links it to crm-b
            replace(envelope("b1", "page_viewed", at(3), anonymous_id="cookie-b", path="/"), account_id="acme"),
            envelope(
                "b2",
                "form_submitted",
                at(4),
                anonymous_id="cookie-b",
                lead_id="crm-b",
                form_id="f",
                email="b@acme.test",
                utm_source="google",
            ),
            # a second cookie of the same person, also acme, merged by the email: one person
            replace(envelope("b3", "page_viewed", at(5), anonymous_id="cookie-b2", path="/"), account_id="acme"),
            envelope("b4", "form_submitted", at(6), anonymous_id="cookie-b2", form_id="f", email="b@acme.test"),
            # someone who left acme for another company
            replace(envelope("c1", "identified", at(7), lead_id="crm-c"), account_id="acme"),
            replace(envelope("c2", "identified", at(8), lead_id="crm-c"), account_id="globex"),
        ]
    )
    body = await group_of(engine_client, "acme", 2)
    assert body["account_id"] == "acme" and body["dimension"] == "account"
    people = {tuple(p["crm_ids"]): p for p in body["people"]}
    assert set(people) == {("crm-a",), ("crm-b",)}
    assert people[("crm-a",)]["stage"] == "sql" and people[("crm-a",)]["division"] == "inside_sales"
    assert people[("crm-a",)]["dimensions"] == {"owner": "sato"}
    assert people[("crm-b",)]["stage"] == "lead" and people[("crm-b",)]["dimensions"] == {"source": "google"}
    assert [p["stage"] for p in body["people"]] == ["lead", "sql"]  # in stage order
    assert (await group_of(engine_client, "globex", 1))["people"][0]["crm_ids"] == ["crm-c"]
    missing = await engine_client.get("/v1/accounts/initech")
    assert missing.status_code == 404 and missing.json()["detail"]["field"] == "account_id"


async def test_a_read_key_is_needed(engine_client: httpx.AsyncClient) -> None:
    response = await engine_client.get("/v1/accounts/acme", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
