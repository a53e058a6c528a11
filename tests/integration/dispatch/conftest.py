"""The dispatcher's fixtures: a real stage engine in-process publishing stagetrack.lead-events, envelopes sent to
its events topic, a receiver verifying every signature, and the dispatcher (in-process or as a process)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import Event
from services.common.settings import ServiceSettings
from services.dispatch.app.bootstrap import create_app as dispatch_app
from services.dispatch.app.settings import DispatchSettings
from services.stage_engine.app.bootstrap import create_app as engine_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.dispatch.receiver import Receiver, new_secret
from tests.integration.engine.conftest import Producer, engine_settings, envelope, producer
from tests.stack import REPO, eventually, free_port, settings_env, unique

__all__ = ["Producer", "engine_settings", "producer"]
SECRET_ENV = "STAGETRACK_TEST_RECEIVER_SECRET"


def now_envelope(type: str, lead: str, *, after_seconds: float = 0, **properties: Any) -> Event:
    """An envelope for `lead` that happened now (plus `after_seconds`): SLA deadlines are wall-clock times."""
    at = (datetime.now(UTC) + timedelta(seconds=after_seconds)).isoformat()
    return envelope(unique("ev"), type, at, lead_id=lead, **properties)


def form(lead: str, *, high: bool = True) -> Event:
    intent = "high" if high else "normal"
    return now_envelope("form_submitted", lead, form_id="f", email=f"{lead.lower()}@example.com", intent=intent)


def write_subscriptions(path: Path, url: str, subscriptions: Sequence[dict[str, Any]]) -> Path:
    endpoint = {"name": "receiver", "url": url, "format": "standard-webhooks", "secret_env": SECRET_ENV}
    path.write_text(yaml.safe_dump({"endpoints": [endpoint], "subscriptions": list(subscriptions)}))
    return path


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(secret=new_secret())


def dispatch_settings(
    settings: ServiceSettings, subscriptions: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> DispatchSettings:
    """Settings for a dispatcher of this test's topics and schema, reading the whole topic, fast to retry."""
    monkeypatch.setenv(SECRET_ENV, receiver.secret)
    values: dict[str, Any] = {
        **settings.model_dump(include=set(ServiceSettings.model_fields) - {"port"}),
        "dispatch_subscriptions": subscriptions,
        "dispatch_allowed_destinations": "127.0.0.1",
        "dispatch_consumer_group": unique("dispatch"),
        "dispatch_start_from": "earliest",
        "dispatch_poll_seconds": 0.1,
        "dispatch_retry_first_seconds": 0.2,
        "dispatch_retry_max_seconds": 1.0,
        "dispatch_connect_timeout_seconds": 1.0,
        "dispatch_read_timeout_seconds": 2.0,
        "dispatch_sla_grace_seconds": 0.5,
        **extra,
    }
    return DispatchSettings(**values)


@contextlib.asynccontextmanager
async def running_engine(settings: EngineSettings) -> AsyncIterator[None]:
    """The stage engine in-process with its outbox publisher (stagetrack.lead-events)."""
    app = engine_app(settings)
    async with app.router.lifespan_context(app):
        yield


@contextlib.asynccontextmanager
async def running_dispatcher(settings: DispatchSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = dispatch_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dispatch") as client:
            yield client


def dispatcher_env(settings: DispatchSettings, receiver: Receiver, **extra: str) -> dict[str, str]:
    """The environment of a `stagetrack serve dispatch` (or `stagetrack dispatch ...`) process with these settings."""
    fields = {
        name: value
        for name, value in settings.model_dump(exclude=set(ServiceSettings.model_fields)).items()
        if value is not None
    }
    env = settings_env(settings, **{SECRET_ENV: receiver.secret}, **extra)
    env.update({f"STAGETRACK_{name.upper()}": str(value) for name, value in fields.items() if name != "port"})
    return env


def start_dispatcher(settings: DispatchSettings, receiver: Receiver, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "dispatch"],
        env=dispatcher_env(settings, receiver, STAGETRACK_DISPATCH_PORT=str(port)),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


async def deliveries(engine: AsyncEngine, where: str = "true") -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT * FROM dispatch_deliveries WHERE {where} ORDER BY id"))
        return [dict(r._mapping) for r in rows]


async def attempts(engine: AsyncEngine, delivery_id: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM dispatch_attempts WHERE delivery_id = :id ORDER BY attempt"), {"id": delivery_id}
        )
        return [dict(r._mapping) for r in rows]


async def lead_stage(engine: AsyncEngine, crm_id: str, stage: str) -> bool:
    """True once the dispatcher knows the lead holding `crm_id` is in `stage` (it took in that move)."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM dispatch_leads WHERE :crm = ANY(crm_ids) AND stage = :stage"),
            {"crm": crm_id, "stage": stage},
        )
    return bool(found)


__all__ += ["eventually"]
