"""A batch that fails the same way again and again (here a trigger raising an error that is not a data error, so
it is retried) logs one traceback and then a count, not a traceback per retry; the engine says it is stalled
while it fails, and recovers by itself once the cause is gone."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.conftest import Producer, envelope
from tests.stack import eventually

AT = "2026-10-01T09:00:00+00:00"
CONSUMER = "services.stage_engine.adapters.consumer"


async def test_a_failure_repeated_is_logged_once_with_a_count_and_the_loop_reported_stalled(
    producer: Producer, engine_settings: EngineSettings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=CONSUMER)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the store is closed for maintenance'; END $$"
            )
        )
        await conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON lead_events EXECUTE FUNCTION refuse()"))
    await producer.send([envelope(f"e{n}", "page_viewed", AT, anonymous_id=f"v{n}", path="/") for n in range(3)])

    app = create_app(engine_settings.model_copy(update={"stall_after_seconds": 2.0}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as client:

            async def stalled() -> str | None:
                answer = await client.get("/readyz")
                return answer.json()["checks"]["consumer"] if answer.status_code == 503 else None

            reason = await eventually(stalled, 30, "/readyz 503 while the batch keeps failing")
            assert reason.startswith("RuntimeError: engine-consumer stalled: no progress for "), reason
            failures = [r for r in caplog.records if r.name == CONSUMER and r.levelno >= logging.ERROR]
            assert len(failures) == 1 and failures[0].exc_info, [r.getMessage() for r in failures]
            assert "the store is closed for maintenance" in str(failures[0].exc_info[1])

            async with engine.begin() as conn:
                await conn.execute(text("DROP TRIGGER refuse ON lead_events"))

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, 30, "/readyz 200 once the batch commits")
    lines = [r.getMessage() for r in caplog.records if r.name == CONSUMER]
    repeated = [line for line in lines if line.startswith("the failure above repeated")]
    assert len(repeated) == 1 and "RaiseError: the store is closed for maintenance" in repeated[0], lines
    assert any(line.startswith("recovered from: RaiseError") for line in lines), lines
    assert sum(1 for r in caplog.records if r.name == CONSUMER and r.exc_info) == 1
