"""GET /v1/leads/{id} of a real `stagetrack serve engine` answers 4xx, never 5xx, whatever the id: NUL, any
Unicode, bytes that are not UTF-8, very long; schemathesis then fuzzes every operation of its OpenAPI document
(with a `read:leads` key, so the fuzzed requests reach the route)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.keys import bearer, new_key
from tests.stack import eventually, served, unique

KNOWN = "crm-Ünïcødé-リード-🙂"
HOSTILE = [
    "%00",
    "nul%00inside",
    "%ff%fe",  # not UTF-8
    "%ed%a0%80",  # an encoded lone surrogate
    "a" * 129,
    "b" * 10_000,
    "%F0%9F%99%82",  # an emoji nobody owns
    "%E2%80%AE%E2%80%8B",  # right-to-left override, zero-width space
    "..%2F..%2Fetc%2Fpasswd",
    "'; DROP TABLE lead_events; --",
]


@pytest.fixture
async def engine_url(engine_settings: EngineSettings, producer: Producer, tmp_path: Path) -> AsyncIterator[str]:
    await producer.send(
        [
            envelope(
                unique("e"), "form_submitted", "2026-10-01T09:00:00+00:00", lead_id=KNOWN, form_id="f", email="u@x.io"
            )
        ]
    )
    group = {"STAGETRACK_CONSUMER_GROUP": unique("g")}
    async with served("engine", engine_settings, tmp_path / "engine.log", **group) as url:
        yield url


@pytest.fixture
async def leads_key(engine: AsyncEngine) -> str:
    return await new_key(engine, "read:leads")


async def test_any_lead_id_is_answered_with_4xx_never_5xx(engine_url: str, leads_key: str) -> None:
    async with httpx.AsyncClient(base_url=engine_url, headers=bearer(leads_key), timeout=10) as client:

        async def known() -> bool:
            return (await client.get(f"/v1/leads/{KNOWN}")).status_code == 200

        await eventually(known, 30, "the lead with a Unicode CRM id found")
        for lead_id in HOSTILE:
            answer = await client.get(f"/v1/leads/{lead_id}")
            assert 400 <= answer.status_code < 500, (lead_id[:40], answer.status_code, answer.text[:300])
        for lead_id, reason in (("%00", "NUL"), ("a" * 129, "at most 128 characters")):
            answer = await client.get(f"/v1/leads/{lead_id}")
            assert answer.status_code == 422 and answer.json()["detail"]["field"] == "lead_id", answer.text
            assert reason in answer.json()["detail"]["reason"], answer.text


@pytest.fixture
def engine_api(engine_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{engine_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("engine_api")


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_engine_answer_5xx(case: schemathesis.Case, leads_key: str) -> None:
    case.call_and_validate(headers=bearer(leads_key), checks=[not_a_server_error], timeout=10)
