"""Envelopes on stagetrack.events become lead histories in the store; GET /v1/leads/{id} explains them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.engine.conftest import Producer, envelope
from tests.stack import eventually


async def lead_when(client: httpx.AsyncClient, lead_id: str, stage: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/v1/leads/{lead_id}")
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["stage"] == stage else None

    return await eventually(check, 30, f"lead {lead_id} in {stage}")


def path(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(t["from_stage"], t["to_stage"], t["rule"]) for t in body["transitions"]]


async def test_anonymous_visits_then_form_then_sales_to_onboarding(
    producer: Producer, engine_client: httpx.AsyncClient
) -> None:
    await producer.send(
        [
            envelope("e1", "page_viewed", "2026-10-01T09:00:00+00:00", anonymous_id="a1", path="/blog"),
            envelope("e2", "page_viewed", "2026-10-01T09:05:00+00:00", anonymous_id="a1", path="/pricing"),
        ]
    )
    visitor = await lead_when(engine_client, "a1", "visitor")
    assert visitor["score"] == 12
    await producer.send(
        [
            envelope(
                "e3",
                "form_submitted",
                "2026-10-02T09:00:00+00:00",
                anonymous_id="a1",
                lead_id="L1",
                form_id="demo",
                email="a@example.com",
            ),
            envelope("e4", "lead_accepted", "2026-10-02T10:00:00+00:00", lead_id="L1"),
            envelope("e5", "meeting_scheduled", "2026-10-03T10:00:00+00:00", lead_id="L1"),
            envelope(
                "e6",
                "opportunity_won",
                "2026-10-10T10:00:00+00:00",
                lead_id="L1",
                opportunity_id="o1",
                amount="1200000",
                currency="JPY",
            ),
            envelope("e7", "onboarding_completed", "2026-10-20T10:00:00+00:00", lead_id="L1"),
        ]
    )
    body = await lead_when(engine_client, "L1", "active")
    assert body["score"] == 1 + 11 + 10
    assert body["crm_ids"] == ["L1"]
    stages = [(f, t) for f, t, _ in path(body)]
    assert stages == [
        (None, "visitor"),
        ("visitor", "lead"),
        ("lead", "sal"),
        ("sal", "sql"),
        ("sql", "onboarding"),
        ("onboarding", "active"),
    ]
    assert body["transitions"][1]["cause_event_id"] == "e3"
    assert all(t["model_version"] for t in body["transitions"])
    assert (await engine_client.get("/v1/leads/nobody")).status_code == 404
