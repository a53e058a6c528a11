"""An endpoint failing for long is paused, not hammered: once it has failed `pause_after_failures` times in a
row, the receiver sees one probe per pause however many leads wait for it (not each lead's own retries, nor a
moment found while it is paused), and the first probe it answers 2xx resumes it: every waiting moment is then
delivered, once."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.stage_engine.app.settings import EngineSettings
from tests.integration.dispatch.conftest import (
    Producer,
    deliveries,
    dispatch_settings,
    form,
    running_dispatcher,
    running_engine,
    write_subscriptions,
)
from tests.integration.dispatch.receiver import Receiver, serving
from tests.stack import eventually, unique

NEW_MQL = {"name": "new-mql", "moments": ["stage_entered"], "stages": ["mql"], "endpoints": ["receiver"]}
PAUSE_SECONDS = 1.5
PAUSED = 'stagetrack_dispatch_endpoint_paused{endpoint="receiver"} 1.0'


async def test_an_endpoint_failing_for_long_is_paused_probed_once_per_pause_and_resumes(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [NEW_MQL])
    # Unpaused, four leads retrying every 0.1 to 0.2 s would make the receiver answer 20 to 40 times a second.
    dispatch = dispatch_settings(
        settings,
        subscriptions,
        receiver,
        monkeypatch,
        dispatch_retry_first_seconds=0.1,
        dispatch_retry_max_seconds=0.2,
        dispatch_pause_after_failures=3,
        dispatch_pause_after_seconds=0,
        dispatch_pause_seconds=PAUSE_SECONDS,
    )
    receiver.answers = [503] * 10_000
    leads = [unique("L") for _ in range(4)]
    found_while_paused = unique("L")
    async with serving(receiver), running_engine(engine_settings), running_dispatcher(dispatch) as client:
        await producer.send([form(lead) for lead in leads])
        await eventually(lambda: _paused(client, True), 60, "the failing endpoint paused")
        await producer.send([form(found_while_paused)])  # queued, and not posted until a probe succeeds
        leads.append(found_while_paused)
        before = len(receiver.got)
        await eventually(lambda: _some(len(receiver.got) >= before + 3), 30, "three probes of the paused endpoint")
        failing = list(receiver.got)
        receiver.answers.clear()  # the receiver is back
        await eventually(lambda: _some(len(receiver.delivered()) >= len(leads)), 30, "every moment delivered")
        await eventually(lambda: _paused(client, False), 10, "the endpoint resumed")
        text = (await client.get("/metrics")).text

    assert receiver.refused == []
    probes = [r.at for r in failing[-3:]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert all(gap >= PAUSE_SECONDS - 0.2 for gap in gaps), gaps  # one attempt per pause, across the four leads
    span = failing[-1].at - failing[0].at
    assert len(failing) <= len(leads) + 3 + span / PAUSE_SECONDS, (len(failing), span)
    delivered = receiver.delivered()
    assert sorted(r.body["data"]["crm_ids"][0] for r in delivered) == sorted(leads)  # each once
    assert len({r.webhook_id for r in delivered}) == len(leads)
    rows = await deliveries(engine)
    assert [r["state"] for r in rows] == ["delivered"] * len(leads)
    assert sum(r["attempts"] for r in rows) == len(receiver.got)  # every attempt the receiver saw is recorded
    assert 'stagetrack_dispatch_attempts_total{endpoint="receiver",result="http_5xx"}' in text


async def _paused(client: httpx.AsyncClient, paused: bool) -> bool:
    text = (await client.get("/metrics")).text
    return (PAUSED in text) is paused


async def _some(value: object) -> object:
    return value
