"""SLA deadlines become moments: a lead still in its stage when the deadline passes is reported once
(`sla_breached`); a lead that moves on before its deadline triggers nothing. The model's mql SLA is 3 s here."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.common.stage_model.model import DEFAULT_MODEL_PATH
from services.stage_engine.app.settings import EngineSettings
from tests.integration.dispatch.conftest import (
    Producer,
    deliveries,
    dispatch_settings,
    form,
    lead_stage,
    now_envelope,
    running_dispatcher,
    running_engine,
    write_subscriptions,
)
from tests.integration.dispatch.receiver import Receiver, serving
from tests.stack import eventually, unique

SLA = {"name": "sla", "moments": ["sla_breached"], "endpoints": ["receiver"]}


def short_sla_model(path: Path) -> Path:
    source = DEFAULT_MODEL_PATH.read_text()
    line = "{id: mql_accepted_24h, stage: mql, within: 24h}"
    assert line in source
    path.write_text(source.replace(line, "{id: mql_accepted_24h, stage: mql, within: 3s}"))
    return path


async def test_a_passed_deadline_is_delivered_once_and_a_lead_that_moved_on_triggers_nothing(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = short_sla_model(tmp_path / "model.yaml")
    engine_settings = EngineSettings(**{**engine_settings.model_dump(), "stage_model": model})
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [SLA])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch, stage_model=model)
    waiting, moving = unique("L"), unique("L")
    async with serving(receiver), running_engine(engine_settings), running_dispatcher(dispatch):
        await producer.send([form(waiting), form(moving), now_envelope("lead_accepted", moving, after_seconds=1)])
        await eventually(lambda: lead_stage(engine, moving, "sal"), 30, "the accepted lead's move taken in")

        async def breached() -> object:
            return receiver.delivered() or None

        await eventually(breached, 30, "the breach delivered")
        await eventually(lambda: _no_deadlines(engine), 10, "every deadline fired or cancelled")

    assert receiver.refused == []
    (got,) = receiver.got
    assert got.body["type"] == "sla_breached"
    data = got.body["data"]
    assert data["crm_ids"] == [waiting] and data["stage"] == "mql" and data["division"] == "marketing"
    assert data["sla"] == "mql_accepted_24h" and data["due_at"] == data["occurred_at"]
    assert data["moment_id"] == f"sla_breached:{data['lead_id']}:mql:{data['due_at']}"
    assert data["cause_event_id"] is None
    rows = await deliveries(engine)
    assert [(r["moment_kind"], r["state"]) for r in rows] == [("sla_breached", "delivered")]


async def _no_deadlines(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT count(*) FROM dispatch_sla_deadlines")) == 0
