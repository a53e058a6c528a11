"""`by=` and `<dimension>=` on every /v1/kpi route: `all` is the unsliced answer, additive numbers sum exactly
over the slices, a merged lead whose halves came from two sources counts once in the slice of the source seen
first, filters equal the slice they pick, and an unknown dimension is refused (docs/kpi.md "Slices")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.common.stage_model.model import default_model
from tests.integration.kpi_api.scenario import iso, kpi_client
from tests.integration.kpi_api.slices_check import check_sliced
from tests.integration.kpi_api.slices_data import T0, store_and_project

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
    "accounts": "/v1/kpi/accounts",
}
DIMENSIONS = ("source", "campaign", "segment", "owner", "account")


@pytest.fixture
async def served(settings: ServiceSettings, engine: AsyncEngine) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    await store_and_project(engine, MODEL)


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


async def test_an_account_is_in_its_furthest_leads_stage(settings: ServiceSettings, served: None) -> None:
    """acme: c1 (google: visitor 00:00, lead 01:00, sql, won at 100 h) and the bing lead (mql 08:00, sal 09:00)."""
    async with kpi_client(settings, NOW) as client:
        body = await get(client, "accounts")
        one = await get(client, "accounts", account="acme")
        by_source = await get(client, "accounts", by="source")
    rows = {row["stage"]: row for row in body["stages"]}
    assert body["rule"].startswith("an account is in the most advanced") and body["accounts"] == 1
    assert [rows[s]["inflow"] for s in MODEL.success_path] == [1, 1, 1, 1, 1, 0, 1, 0]  # opportunity skipped
    assert rows["sql"]["outflow"] == {"total": 1, "by_destination": {"onboarding": 1}}
    assert rows["onboarding"]["balance"] == 1 and rows["onboarding"]["reached"] == 1 and rows["active"]["reached"] == 0
    assert rows["mql"]["cohort_cvr"] == {"numerator": 1, "denominator": 1, "value": 1.0, "next_stage": "sal"}
    assert body["revenue"]["shared"] == {"count": 2, "amount": "105000"}
    assert {k: v for k, v in one.items() if k != "filters"} == body
    assert [s["value"] for s in by_source["slices"]] == ["google"]  # its first lead (00:00) came from google
