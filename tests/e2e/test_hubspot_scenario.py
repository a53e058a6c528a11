"""A CRM without middleware: HubSpot webhooks posted to the ingest (a real process) move the contact through
THE MODEL in the engine (a real process); GET /v1/leads/{id} shows the stages the CRM's changes mean."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from hubspot.utils.signature import Signature
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.keys import bearer, new_key
from tests.stack import eventually, served, unique

SECRET = "e2e-hubspot-app-secret"
T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z, ms
COMMON = {"portalId": 62515, "appId": 1, "subscriptionId": 9, "attemptNumber": 0}


def webhook(event_id: int, kind: str, at_minutes: int, **fields: Any) -> dict[str, Any]:
    return {**COMMON, "eventId": event_id, "subscriptionType": kind, "occurredAt": T0 + at_minutes * 60_000, **fields}


async def deliver(client: httpx.AsyncClient, url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    body = orjson.dumps(items)
    timestamp = str(int(time.time() * 1000))
    headers = {
        "X-HubSpot-Signature-v3": Signature.get_signature(SECRET, body.decode(), "v3", url, "POST", timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
        "Content-Type": "application/json",
    }
    response = await client.post(url, content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_contact_from_a_form_moved_to_sql_and_a_won_deal_show_in_the_leads_history(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    reader = bearer(await new_key(engine, "read:leads"))
    async with (
        served("ingest", settings, tmp_path / "ingest.log", STAGETRACK_HUBSPOT_APP_SECRET=SECRET) as ingest_url,
        served("engine", settings, tmp_path / "engine.log", STAGETRACK_CONSUMER_GROUP=unique("g")) as engine_url,
        httpx.AsyncClient() as client,
    ):
        url = f"{ingest_url}/v1/connectors/hubspot"
        contact = {"objectId": 7, "changeSource": "FORM"}
        created = [webhook(1, "contact.creation", 0, **contact)]
        to_sql = [
            webhook(
                2,
                "contact.propertyChange",
                60,
                objectId=7,
                propertyName="lifecyclestage",
                propertyValue="salesqualifiedlead",
                changeSource="CRM_UI",
            )
        ]
        opened = [webhook(3, "deal.creation", 120, objectId=55)]
        associated = [
            webhook(
                4,
                "deal.associationChange",
                121,
                associationType="DEAL_TO_CONTACT",
                fromObjectId=55,
                toObjectId=7,
                associationRemoved=False,
            )
        ]
        won = [webhook(5, "deal.propertyChange", 180, objectId=55, propertyName="dealstage", propertyValue="closedwon")]

        async def in_stage(any_id: str, stage: str) -> dict[str, Any]:
            async def check() -> dict[str, Any] | None:
                response = await client.get(f"{engine_url}/v1/leads/{any_id}", headers=reader)
                body: dict[str, Any] = response.json()
                return body if response.status_code == 200 and body["stage"] == stage else None

            return await eventually(check, 30, f"{any_id} in {stage}")

        # Separate webhooks, as HubSpot sends them; each waits for the engine, because the deal and the contact
        # are keyed apart (two partitions) until the association links them.
        answers = [await deliver(client, url, created), await deliver(client, url, to_sql)]
        await in_stage("hubspot-contact-7", "sql")
        answers.append(await deliver(client, url, opened))
        await in_stage("hubspot-deal-55", "opportunity")
        answers.append(await deliver(client, url, associated))
        await in_stage("hubspot-contact-7", "opportunity")  # merged: the deal's won is keyed on another partition
        answers.append(await deliver(client, url, won))
        assert [a["accepted"] for a in answers] == [1, 1, 1, 1, 1]
        # HubSpot redelivers a webhook it did not see answered: nothing is published twice, nothing moves twice.
        assert (await deliver(client, url, to_sql + won))["duplicates"] == 2

        lead = await in_stage("hubspot-contact-7", "onboarding")
        history = [(t["from_stage"], t["to_stage"], t["rule"], t["cause_event_id"]) for t in lead["transitions"]]
        assert history == [
            (None, "lead", "identified", "hubspot-1"),  # the contact HubSpot created from the form
            ("lead", "sql", "meeting_scheduled", "hubspot-2"),  # lifecycle stage SQL: mql and sal skipped
            (None, "opportunity", "opportunity_opened", "hubspot-3"),  # the deal, tracked apart until associated
            ("opportunity", "onboarding", "opportunity_won", "hubspot-5"),  # the deal won, on the merged lead
        ]
        [merge] = lead["merges"]
        assert (merge["cause_event_id"], merge["stage_after"]) == ("hubspot-4", "opportunity")
        assert merge["absorbed_id"] == lead["transitions"][2]["lead_id"] != lead["lead_id"]
        assert lead["crm_ids"] == ["hubspot-contact-7"]
        assert lead["sla_due_at"] == "2026-10-21T17:13:20+00:00"  # onboarding completed within 30 days
