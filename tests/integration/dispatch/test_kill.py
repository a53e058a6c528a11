"""kill -9 of the dispatcher mid-delivery, twice: after the restarts every moment is delivered, a duplicate only
ever with the same webhook-id (and body), and each lead's moments reach the receiver in the order they happened."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import defaultdict
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
    now_envelope,
    running_engine,
    start_dispatcher,
    write_subscriptions,
)
from tests.integration.dispatch.receiver import Received, Receiver, serving
from tests.stack import eventually, unique

LEADS = 40
MOMENTS = ["stage_entered", "opportunity_won"]  # 5 stage entries and a win per lead


def journey(lead: str) -> list:  # type: ignore[type-arg]
    return [
        form(lead),
        now_envelope("lead_accepted", lead, after_seconds=1),
        now_envelope("meeting_scheduled", lead, after_seconds=2),
        now_envelope("meeting_held", lead, after_seconds=3),
        now_envelope("opportunity_won", lead, after_seconds=4, opportunity_id=f"o-{lead}", amount=1000),
    ]


async def test_kill_9_mid_delivery_loses_nothing_and_keeps_each_leads_order(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.delay_seconds = 0.2  # slow enough that deliveries are in flight when the dispatcher dies
    everything = {"name": "all", "moments": MOMENTS, "endpoints": ["receiver"]}
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [everything])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch)
    expected = LEADS * 6
    log = tmp_path / "dispatch.log"
    proc, url = start_dispatcher(dispatch, receiver, log)
    try:
        async with serving(receiver), running_engine(engine_settings), httpx.AsyncClient(timeout=2) as client:

            async def ready() -> bool:
                assert proc.poll() is None, log.read_text()[-3000:]
                return (await client.get(f"{url}/readyz")).status_code == 200

            await eventually(ready, 60, "the dispatcher ready")
            leads = [unique("L") for _ in range(LEADS)]
            await producer.send([event for lead in leads for event in journey(lead)])
            for share in (4, 2):  # killed once a quarter has arrived, then at half
                await eventually(lambda s=share: _received(receiver, expected // s), 120, f"1/{share} received")
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                proc, url = start_dispatcher(dispatch, receiver, log)
                await eventually(ready, 60, "the dispatcher ready again")
            await eventually(lambda: _all_delivered(engine, expected), 180, "every moment delivered")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    assert receiver.refused == []
    rows = await deliveries(engine)
    assert len(rows) == expected and {r["state"] for r in rows} == {"delivered"}
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for got in receiver.got:
        by_id[got.webhook_id].add(got.raw)
    assert set(by_id) == {r["webhook_id"] for r in rows}  # every moment reached the receiver
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a duplicate is the same message
    per_lead: dict[str, list[Received]] = defaultdict(list)
    for got in receiver.got:
        per_lead[got.body["data"]["lead_id"]].append(got)
    assert len(per_lead) == LEADS
    for lead, received in per_lead.items():
        firsts: list[Received] = []
        for got in received:
            if any(got.webhook_id == seen.webhook_id for seen in firsts):
                assert got.webhook_id == firsts[-1].webhook_id, (lead, "a duplicate came after a later moment")
            else:
                firsts.append(got)
        positions = [int(got.body["data"]["moment_id"].split(":")[1]) for got in firsts]
        assert positions == sorted(positions) and len(firsts) == 6, (lead, [g.body["type"] for g in firsts])
    duplicates = len(receiver.got) - expected
    print(f"{duplicates} duplicate(s) after two kill -9")


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.got) >= count


async def _all_delivered(engine: AsyncEngine, expected: int) -> bool:
    rows = await deliveries(engine, "state = 'delivered'")
    return len(rows) == expected
