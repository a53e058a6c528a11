"""Webhooks reach a real receiver: once, signed (verified with the `standardwebhooks` package), with the documented
body; retried with the same webhook-id while the receiver answers 5xx; dead-lettered after the horizon and re-sent
by `stagetrack dispatch resend`."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceSettings
from services.stage_engine.app.settings import EngineSettings
from tests.integration.dispatch.conftest import (
    Producer,
    attempts,
    deliveries,
    dispatch_settings,
    dispatcher_env,
    form,
    lead_stage,
    now_envelope,
    running_dispatcher,
    running_engine,
    write_subscriptions,
)
from tests.integration.dispatch.receiver import Receiver, serving
from tests.stack import REPO, eventually, unique

NEW_MQL = {"name": "new-mql", "moments": ["stage_entered"], "stages": ["mql"], "endpoints": ["receiver"]}


async def test_a_form_that_makes_an_mql_reaches_the_receiver_once_signed_with_the_documented_body(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [NEW_MQL])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch)
    hot, cold = unique("L"), unique("L")
    hot_form, cold_form = form(hot), form(cold, high=False)
    async with serving(receiver), running_engine(engine_settings), running_dispatcher(dispatch) as client:
        await producer.send([cold_form, hot_form])
        got = await eventually(lambda: _some(receiver.delivered()), 60, "the MQL webhook received")
        await eventually(lambda: lead_stage(engine, cold, "lead"), 30, "the plain form's lead taken in")
        # A later MQL, delivered after the first: anything the first would still send has been sent by now.
        later = unique("L")
        await producer.send([form(later)])
        await eventually(lambda: _some(len(receiver.delivered()) >= 2), 60, "the later MQL webhook received")
        assert (await client.get("/readyz")).status_code == 200
        metrics = (await client.get("/metrics")).text

    assert receiver.refused == []  # every request's signature verified
    assert len(receiver.got) == 2, [r.body for r in receiver.got]  # once each; the plain form's lead is no MQL
    first = got[0]
    body = first.body
    assert body["type"] == "stage_entered"
    data = body["data"]
    assert data["crm_ids"] == [hot] and data["stage"] == "mql" and data["division"] == "marketing"
    assert (data["from_stage"], data["to_stage"], data["rule"], data["via"]) == (None, "mql", "high_intent_form", [])
    assert data["cause_event_id"] == hot_form.event_id
    assert data["lead_url"] == f"{dispatch.dispatch_lead_url_base}/v1/leads/{data['lead_id']}"
    assert data["moment_id"].startswith("stage_entered:")
    assert data["occurred_at"] and data["recorded_at"] and body["timestamp"] == data["recorded_at"]
    assert first.webhook_id.startswith("msg_") and first.headers["webhook-signature"].startswith("v1,")
    rows = await deliveries(engine)
    assert [(r["state"], r["attempts"]) for r in rows] == [("delivered", 1), ("delivered", 1)]
    assert rows[0]["webhook_id"] == first.webhook_id
    assert 'stagetrack_dispatch_deliveries_total{endpoint="receiver",outcome="delivered"} 2.0' in metrics
    assert 'stagetrack_dispatch_delivery_latency_seconds_count{endpoint="receiver"} 2.0' in metrics


async def test_a_receiver_answering_500_three_times_gets_it_once_more_with_the_same_webhook_id(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.answers = [500, 500, 500]
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [NEW_MQL])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch)
    async with serving(receiver), running_engine(engine_settings), running_dispatcher(dispatch):
        await producer.send([form(unique("L"))])
        await eventually(lambda: _some(receiver.delivered()), 60, "the webhook delivered after three 500s")
        (row,) = await eventually(lambda: _some(deliveries(engine, "state = 'delivered'")), 10, "the delivery recorded")

    assert receiver.refused == []
    assert [r.answered for r in receiver.got] == [500, 500, 500, 200]
    assert len({r.webhook_id for r in receiver.got}) == 1  # one message, four attempts
    assert len({r.raw for r in receiver.got}) == 1  # the same body each time
    assert row["attempts"] == 4 and row["webhook_id"] == receiver.got[0].webhook_id
    tries = await attempts(engine, row["id"])
    assert [a["status"] for a in tries] == [500, 500, 500, 200]
    assert [a["error"] for a in tries] == ["HTTP 500: no", "HTTP 500: no", "HTTP 500: no", None]


async def test_a_receiver_down_past_the_horizon_dead_letters_and_resend_delivers(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [NEW_MQL])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch, dispatch_retry_horizon_seconds=2.0)
    async with running_engine(engine_settings), running_dispatcher(dispatch):
        await producer.send([form(unique("L"))])  # nobody listens on the receiver's port yet
        dead = await eventually(lambda: _some(deliveries(engine, "state = 'failed'")), 60, "the delivery dead-lettered")
        (failed,) = dead
        assert failed["attempts"] >= 2 and "ConnectError" in failed["last_error"], failed
        env = dispatcher_env(dispatch, receiver)
        listed = subprocess.run(
            [str(REPO / ".venv/bin/stagetrack"), "dispatch", "failed"], env=env, capture_output=True, text=True
        )
        assert listed.returncode == 0, listed.stderr
        (line,) = listed.stdout.splitlines()
        assert line.split("\t")[0] == str(failed["id"]) and failed["webhook_id"] in line, line
        async with serving(receiver):
            resend = subprocess.run(
                [str(REPO / ".venv/bin/stagetrack"), "dispatch", "resend", str(failed["id"])],
                env=env,
                capture_output=True,
                text=True,
            )
            assert resend.returncode == 0, resend.stdout + resend.stderr
            assert f"queued again: {failed['id']}" in resend.stdout
            got = await eventually(lambda: _some(receiver.delivered()), 30, "the re-sent webhook received")
            await eventually(lambda: _some(deliveries(engine, "state = 'delivered'")), 10, "the resend recorded")

    assert receiver.refused == []
    assert [r.webhook_id for r in got] == [failed["webhook_id"]]
    again = subprocess.run(
        [str(REPO / ".venv/bin/stagetrack"), "dispatch", "resend", str(failed["id"])],
        env=dispatcher_env(dispatch, receiver),
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "not dead-lettered" in again.stderr


async def _some(value: object) -> object:
    """`value` (awaited first when it is awaitable) when truthy, else None: `eventually` polls on."""
    if inspect.isawaitable(value):
        value = await value
    return value or None


async def test_a_leads_later_moment_waits_for_a_retried_one_and_not_for_a_dead_lettered_one(
    settings: ServiceSettings,
    engine: AsyncEngine,
    engine_settings: EngineSettings,
    producer: Producer,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every_stage = {"name": "stages", "moments": ["stage_entered"], "endpoints": ["receiver"]}
    subscriptions = write_subscriptions(tmp_path / "subscriptions.yaml", receiver.url, [every_stage])
    dispatch = dispatch_settings(settings, subscriptions, receiver, monkeypatch)
    retried, dropped = unique("L"), unique("L")
    async with serving(receiver), running_engine(engine_settings), running_dispatcher(dispatch):
        receiver.answers = [500, 500]  # the mql webhook fails twice; the sal one waits behind it
        await producer.send([form(retried), now_envelope("lead_accepted", retried, after_seconds=1)])
        await eventually(lambda: _some(len(receiver.delivered()) == 2), 60, "both of the first lead's webhooks")
        receiver.answers = [410]  # gone: dead-lettered at once, and the lead's next moment goes on
        await producer.send([form(dropped), now_envelope("lead_accepted", dropped, after_seconds=1)])
        await eventually(lambda: _some(len(receiver.delivered()) == 3), 60, "the second lead's sal webhook")

    stages = [(r.body["data"]["crm_ids"][0], r.body["data"]["stage"], r.answered) for r in receiver.got]
    assert stages == [
        (retried, "mql", 500),
        (retried, "mql", 500),
        (retried, "mql", 200),
        (retried, "sal", 200),
        (dropped, "mql", 410),
        (dropped, "sal", 200),
    ]
    (failed,) = await deliveries(engine, "state = 'failed'")
    assert failed["last_error"] == "HTTP 410: no" and failed["attempts"] == 1
