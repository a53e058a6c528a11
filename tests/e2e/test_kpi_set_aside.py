"""`stagetrack serve kpi` as a real process: with Kafka unreachable it is ready (it reads only PostgreSQL); when
every record is refused it sets aside `STAGETRACK_SET_ASIDE_BRAKE_RUN` of them and stops, /readyz 503 naming
the projector; fixed, restarted and redriven, every record is projected exactly once."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.kpi.app.rebuild import rebuild
from services.kpi.app.set_aside_admin import list_set_aside, redrive
from services.kpi.app.settings import KpiSettings
from tests.integration.kpi.conftest import checksums, store_head
from tests.integration.kpi.store_rows import MODEL, StoreWriter, visitor
from tests.keys import bearer, new_key
from tests.stack import eventually, free_port, served


def sample(metrics: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found[1])


def without_kafka() -> dict[str, str]:
    return {"STAGETRACK_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}  # nothing listens there


async def test_the_kpi_service_is_ready_while_kafka_is_unreachable(
    settings: ServiceSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    reader = bearer(await new_key(engine, "read:kpi"))
    async with served("kpi", settings, tmp_path / "kpi.log", **without_kafka()) as url, httpx.AsyncClient() as client:
        ready = await client.get(f"{url}/readyz", timeout=10)
        period = {"from": "2026-01-01", "to": "2026-02-01"}
        stages = await client.get(f"{url}/v1/kpi/stages", params=period, headers=reader)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": "ok", "projector": "ok"}
    assert stages.status_code == 200


async def test_the_brake_stops_the_projector_and_redrive_projects_every_record_once(
    settings: ServiceSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    async with engine.begin() as conn:  # a fault that makes every record look bad
        await conn.execute(text("ALTER TABLE kpi_leads ADD CONSTRAINT no_doom CHECK (lead_id NOT LIKE 'doomed%')"))
    store = StoreWriter()
    leads = [f"doomed{n}" for n in range(3)]
    for lead in leads:
        await store.append(engine, visitor(lead))
    positions = [p for p, _ in store.positions]
    env = {**without_kafka(), "STAGETRACK_SET_ASIDE_BRAKE_RUN": "3"}
    kpi_settings = KpiSettings(database_schema=settings.database_schema)

    async with served("kpi", settings, tmp_path / "kpi.log", **env) as url, httpx.AsyncClient(timeout=10) as client:

        async def braked() -> httpx.Response | None:
            ready = await client.get(f"{url}/readyz")
            return ready if ready.status_code == 503 else None

        ready = await eventually(braked, 30, "/readyz 503 naming the braked projector")
        metrics = (await client.get(f"{url}/metrics")).text
        assert "kpi-projector stopped after 3 consecutive set-aside events" in ready.json()["checks"]["projector"]
        assert ready.json()["checks"]["postgres"] == "ok"
        assert sample(metrics, 'stagetrack_loop_braked{loop="kpi-projector"}') == 1
        assert sample(metrics, "stagetrack_kpi_set_aside_total") == 3
        assert [e.id for e in await list_set_aside(kpi_settings)] == [f"kpi:{p}" for p in positions[:3]]
        assert (await client.get(f"{url}/readyz")).status_code == 503  # stopped: it records nothing more

        async def lag_measured() -> bool:
            exposition = (await client.get(f"{url}/metrics")).text
            return sample(exposition, "stagetrack_kpi_projection_lag_events") == 3

        await eventually(lag_measured, 10, "the lag of the three records behind the brake")
    assert len(await list_set_aside(kpi_settings)) == 3

    async with engine.begin() as conn:  # the cause fixed, then a restart
        await conn.execute(text("ALTER TABLE kpi_leads DROP CONSTRAINT no_doom"))
    async with served("kpi", settings, tmp_path / "kpi.log", **env) as url, httpx.AsyncClient(timeout=10) as client:

        async def caught_up() -> bool:
            ready = await client.get(f"{url}/readyz")
            lag = sample((await client.get(f"{url}/metrics")).text, "stagetrack_kpi_projection_lag_events")
            return ready.status_code == 200 and lag == 0

        await eventually(caught_up, 30, "the restarted projector past the records behind the brake")

        assert await redrive(kpi_settings, None) == 3
        assert await redrive(kpi_settings, None) == 0  # a second redrive adds nothing
        ready = await client.get(f"{url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok", "projector": "ok"}

    async with engine.connect() as conn:
        transitions = dict((await conn.execute(text("SELECT lead_id, count(*) FROM kpi_transitions GROUP BY 1"))).all())
        leads_kept = int(await conn.scalar(text("SELECT count(*) FROM kpi_leads")) or 0)
        position = int(await conn.scalar(text("SELECT position FROM kpi_checkpoint")) or 0)
    assert transitions == dict.fromkeys(leads, 1) and leads_kept == 3  # every record exactly once
    assert position == await store_head(engine)
    projected = await checksums(engine)
    await rebuild(engine, MODEL)
    assert await checksums(engine) == projected
