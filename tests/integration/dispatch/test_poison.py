"""A lead-event record the dispatcher cannot read is set aside (listed by `stagetrack dispatch failed`) and the
partition moves on; a run of them as long as the brake stops the loop, /readyz naming it, nothing behind skipped."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.kafka import durable_producer
from services.common.lead_events.event_codec import to_dict
from services.common.lead_events.events import StageChanged
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.integration.dispatch.conftest import (
    deliveries,
    dispatch_settings,
    dispatcher_env,
    running_dispatcher,
    write_subscriptions,
)
from tests.integration.dispatch.receiver import Receiver, serving
from tests.stack import REPO, eventually, unique

NOW = datetime.now(UTC)


def entered_mql(position: int, lead: str) -> bytes:
    event = StageChanged(
        lead_id=lead,
        cause_event_id=unique("e"),
        occurred_at=NOW,
        from_stage=None,
        to_stage="mql",
        to_division="marketing",
        rule="high_intent_form",
        via=(),
        model_version="v",
        event_occurred_at=NOW,
        from_entered_at=None,
        sla_due_at=None,
    )
    return orjson.dumps({"position": position, "lead_id": lead, "version": 1, "event": to_dict(event)})


async def set_aside_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM dispatch_set_aside")) or 0)


async def test_unreadable_records_are_set_aside_and_a_run_as_long_as_the_brake_stops_the_loop(
    settings: ServiceSettings,
    engine: AsyncEngine,
    topics: list[str],
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    everything = {"name": "mql", "moments": ["stage_entered"], "endpoints": ["receiver"]}
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [everything])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch, set_aside_brake_run=3)
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()

    async def send(*values: bytes) -> None:
        for value in values:  # one partition, so the order below is the order read
            await producer.send_and_wait(settings.lead_events_topic, value, key=b"k", partition=0)

    try:
        async with serving(receiver), running_dispatcher(dispatch) as client:
            await send(b"not json", entered_mql(1, "L1"), b'{"position": 2}', entered_mql(3, "L2"))
            await eventually(lambda: _delivered(engine, 2), 30, "both readable records delivered")
            assert await set_aside_count(engine) == 2
            metrics = (await client.get("/metrics")).text
            assert "stagetrack_dispatch_set_aside_total 2.0" in metrics
            assert (await client.get("/readyz")).status_code == 200  # two set aside, then a good one: no brake

            await send(b"[]", b"{}", b"\xff", entered_mql(4, "L3"))

            async def braked() -> dict[str, str] | None:
                answer = await client.get("/readyz")
                return answer.json()["checks"] if answer.status_code == 503 else None

            checks = await eventually(braked, 30, "the brake engaged")
            assert "dispatch-consumer stopped after 3 consecutive set-aside events" in checks["consumer"], checks
            assert await set_aside_count(engine) == 5
            assert 'stagetrack_loop_braked{loop="dispatch-consumer"} 1.0' in (await client.get("/metrics")).text
        assert len(await deliveries(engine)) == 2  # the record behind the brake waits for the restart
        async with serving(receiver), running_dispatcher(dispatch):
            await eventually(lambda: _delivered(engine, 3), 30, "the record behind the brake delivered after a restart")
    finally:
        await producer.stop()

    listed = subprocess.run(
        [str(REPO / ".venv/bin/stagetrack"), "dispatch", "failed"],
        env=dispatcher_env(dispatch, receiver),
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 5 and all("set aside" in line for line in lines), lines
    assert f"{settings.lead_events_topic}/0/0" in lines[0] and "not JSON" in lines[0], lines[0]
    assert "0 dead-lettered deliveries, 5 unreadable lead events" in listed.stderr


async def _delivered(engine: AsyncEngine, count: int) -> bool:
    return len(await deliveries(engine, "state = 'delivered'")) == count
