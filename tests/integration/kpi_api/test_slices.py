"""`by=` and `<dimension>=` on every /v1/kpi route: `all` is the unsliced answer, additive numbers sum exactly
over the slices, a merged lead whose halves came from two sources counts once in the slice of the source seen
first, filters equal the slice they pick, and an unknown dimension is refused (docs/kpi.md "Slices")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from services.kpi.adapters.transaction import transaction
from services.kpi.app.projector import Projector
from tests.integration.kpi_api.scenario import iso, kpi_client
from tests.integration.kpi_api.slices_check import check_sliced
from tests.unit.kpi.support import T0, EngineLog

MODEL = default_model()
D = timedelta(days=1)
NOW = T0 + 40 * D
PERIOD = {"from": iso(T0 - D), "to": iso(T0 + 30 * D)}
ROUTES = {
    "stages": "/v1/kpi/stages",
    "balance": "/v1/kpi/stages/lead/balance",
    "revenue": "/v1/kpi/revenue",
    "customer-success": "/v1/kpi/customer-success",
    "feedback": "/v1/kpi/feedback",
    "bottleneck": "/v1/kpi/bottleneck",
    "forecast": "/v1/kpi/forecast",
}
DIMENSIONS = ("source", "campaign", "segment", "owner", "account")


def event(n: int, type: str, hours: float, *, anon: str | None = None, crm: str | None = None,
          account: str | None = None, **properties: Any) -> Event:  # fmt: skip
    at = T0 + timedelta(hours=hours)
    return Event(f"s{n}", type, at, "test", at, anonymous_id=anon, lead_id=crm, account_id=account,
                 properties=properties)  # fmt: skip


def envelopes() -> list[Event]:
    e = [
        # a lead from google (spring campaign, a mid-market company) that Sato works and wins, account acme
        event(1, "page_viewed", 0, anon="g", path="/", utm_source="google", campaign="spring"),
        event(2, "form_submitted", 1, anon="g", form_id="f", email="g@x.jp"),
        event(3, "identified", 2, anon="g", crm="c1", traits={"employees": 250}),
        event(4, "lead_accepted", 30, crm="c1", owner="sato", account="acme"),
        event(5, "meeting_scheduled", 40, crm="c1", owner="sato"),
        event(6, "opportunity_won", 100, crm="c1", opportunity_id="o1", amount="100000", account="acme"),
        # one person, two cookies: google first (03:00), bing later (04:00); merged at 06:00 -> google
        event(7, "page_viewed", 3, anon="m1", path="/", utm_source="google"),
        event(8, "page_viewed", 4, anon="m2", path="/pricing", utm_source="bing"),
        event(9, "form_submitted", 5, anon="m2", crm="c2", form_id="f", email="m@x.jp", intent="high"),
        event(10, "identified", 6, anon="m1", crm="c2"),
        # bing, high intent, accepted by Suzuki: a second person of acme (its buying group)
        event(11, "page_viewed", 7, anon="b", path="/", utm_source="bing"),
        event(12, "form_submitted", 8, anon="b", form_id="f", email="b@x.jp", intent="high"),
        event(13, "lead_accepted", 9, anon="b", crm="c3", owner="suzuki", account="acme"),
        # a direct visitor (no value anywhere), and a CRM import with feedback
        event(14, "page_viewed", 10, anon="d", path="/"),
        event(15, "lead_accepted", 11, crm="c4", owner="suzuki"),
        event(
            16,
            "feedback_submitted",
            12,
            crm="c4",
            from_division="inside_sales",
            to_division="marketing",
            about="lead",
            rating=4,
            met_expectations=True,
            campaign="spring",
        ),
        event(17, "lead_disqualified", 200, crm="c4", reason="no budget"),
        event(18, "renewal_won", 500, crm="c1", amount="5000", account="acme"),
        event(19, "churned", 600, crm="c1", reason="price"),
    ]
    e.append(event(20, "opportunity_won", -30 * 24, crm="c5", opportunity_id="o5", amount="7000", utm_source="ads"))
    e.append(event(21, "upsell_won", 24, crm="c5", amount="9000"))
    return e


@pytest.fixture
async def served(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    log = EngineLog(MODEL)
    for envelope in envelopes():
        log.send([envelope])
    async with transaction(engine) as conn:
        for r in log.records:
            await conn.execute(
                "INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data) "
                "VALUES (nextval('lead_event_position_seq'), $1, $2, $3, $4, $5::timestamptz, $6::text::jsonb)",
                r.lead_id, r.version, r.event["type"], r.event["cause_event_id"],
                _time(r.event["occurred_at"]), orjson.dumps(r.event).decode(),
            )  # fmt: skip
    await Projector(engine, MODEL, CollectorRegistry(), batch=4).catch_up()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def get(client: Any, route: str, **params: Any) -> dict[str, Any]:
    response = await client.get(ROUTES[route], params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_route_sliced_by_every_dimension_sums_to_all(settings: ServiceSettings, served: None) -> None:
    async with kpi_client(settings, NOW) as client:
        for route in ROUTES:
            unsliced = await get(client, route)
            for dimension in DIMENSIONS:
                check_sliced(route, await get(client, route, by=dimension), unsliced)
            filtered = await get(client, route, source="google")
            sliced = await get(client, route, by="source", source=["google", "bing"])
            values = [part["value"] for part in sliced["slices"]]
            assert values in (["bing", "google"], ["google"], ["bing"], []), route
            google = sliced["slices"][-1] if values[-1:] == ["google"] else (sliced["all"] if not values else None)
            assert google is not None or route == "feedback"
            if google is not None:
                assert {k: filtered[k] for k in sliced["all"]} == {k: google[k] for k in sliced["all"]}, route
            assert filtered["filters"] == {"source": ["google"]}


async def test_the_merged_person_counts_once_in_the_first_touch_slice(settings: ServiceSettings, served: None) -> None:
    async with kpi_client(settings, NOW) as client:
        body = await get(client, "stages", by="source")
    slices = {s["value"]: {row["stage"]: row for row in s["stages"]} for s in body["slices"]}
    assert list(slices) == ["ads", "bing", "google", None]
    # google: lead g (visitor), both cookies of the merged person; bing: lead b only
    assert slices["google"]["visitor"]["inflow"] == 3 and slices["bing"]["visitor"]["inflow"] == 1
    assert slices["google"]["visitor"]["reached"] == 2 and slices["bing"]["visitor"]["reached"] == 1
    assert slices["google"]["mql"]["balance"] == 1  # the merged person, once (it came in high intent via bing)
    assert slices["bing"]["mql"]["inflow"] == 1 and slices["bing"]["mql"]["balance"] == 0  # b moved on to sal
    assert slices[None]["visitor"]["balance"] == 1 and slices[None]["nurture"]["balance"] == 1  # d, and c4
    total = {row["stage"]: row for row in body["all"]["stages"]}
    assert total["visitor"]["inflow"] == sum(s["visitor"]["inflow"] for s in slices.values()) == 5


async def test_accounts_and_owners_slice_the_buying_group(settings: ServiceSettings, served: None) -> None:
    async with kpi_client(settings, NOW) as client:
        by_account = await get(client, "revenue", by="account")
        by_owner = await get(client, "stages", by="owner", source="bing")
        none_only = await get(client, "stages", source="")
    acme = next(s for s in by_account["slices"] if s["value"] == "acme")
    assert acme["shared"] == {"count": 2, "amount": "105000"}  # the win and the renewal of c1
    assert [s["value"] for s in by_owner["slices"]] == ["suzuki"]  # bing's one lead, accepted by Suzuki
    assert by_owner["filters"] == {"source": ["bing"]}
    assert {r["stage"]: r["balance"] for r in none_only["stages"]}["visitor"] == 1


async def test_an_unknown_dimension_is_refused(settings: ServiceSettings, served: None) -> None:
    async with kpi_client(settings, NOW) as client:
        response = await client.get(ROUTES["stages"], params={**PERIOD, "by": "country"})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["field"] == "by" and "'country' is not a dimension" in problem["reason"]
