"""Exactly-once effects under faults: 20,000 envelopes; the engine is killed with SIGKILL at random points,
PostgreSQL restarts once, a second engine joins (rebalance). The store then equals a fault-free run."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db
from services.common.envelope import encode
from services.common.kafka import durable_producer
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from services.stage_engine.app.bootstrap import create_app
from services.stage_engine.app.settings import EngineSettings
from tests.integration.engine.workload import fingerprint, processed, workload
from tests.stack import REPO, eventually, free_port, settings_env, unique

POSTGRES = str(REPO / "deploy" / "local" / "postgres.sh")


def start_engine(settings: ServiceSettings, group: str, log: Path) -> subprocess.Popen[bytes]:
    env = settings_env(settings, STAGETRACK_ENGINE_PORT=str(free_port()), STAGETRACK_CONSUMER_GROUP=group)
    return subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "serve", "engine"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def _processed_at_least(engine: AsyncEngine, count: int) -> bool:
    try:
        return await processed(engine) >= count
    except Exception:  # PostgreSQL restarting: keep polling
        return False


async def test_kills_restarts_and_rebalances_leave_the_store_equal_to_a_fault_free_run(
    settings: ServiceSettings, engine: AsyncEngine, topics: list[str], tmp_path: Path
) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    events = workload(unique("f"), persons=4200)
    assert len(events) >= 20_000
    producer = durable_producer(settings.kafka_bootstrap_servers, linger_ms=20)
    await producer.start()
    try:
        for key, event in events:
            await producer.send(settings.events_topic, encode(event), key=key)
        await producer.flush()
    finally:
        await producer.stop()
    distinct = len({e.event_id for _, e in events})

    rng = random.Random(11)
    marks = sorted(rng.sample(range(distinct // 10, distinct * 9 // 10), 6))
    group, log = unique("engine"), tmp_path / "engine.log"
    engines = [start_engine(settings, group, log)]
    try:
        for i, mark in enumerate(marks):
            await eventually(lambda m=mark: _processed_at_least(engine, m), 120, f"progress to {mark}")
            if i == 3:  # PostgreSQL restarts under the running engine
                restart = await asyncio.create_subprocess_exec(POSTGRES, "restart", stderr=subprocess.PIPE)
                assert await restart.wait() == 0
                continue
            os.kill(engines[0].pid, signal.SIGKILL)
            engines[0].wait()
            engines[0] = start_engine(settings, group, log)
            if i == 4:  # a second engine joins: the group rebalances mid-stream
                engines.append(start_engine(settings, group, log))
        await eventually(lambda: _processed_at_least(engine, distinct), 300, "every event processed")
    finally:
        for proc in engines:
            proc.terminate()
            proc.wait(timeout=30)
    faulty = await fingerprint(engine)

    reference_schema = unique("ref")
    await upgrade(settings.database_url, reference_schema)
    reference = db.create_engine(settings.database_url, reference_schema)
    solo = create_app(
        EngineSettings(
            **{
                **settings.model_dump(exclude={"port"}),
                "database_schema": reference_schema,
                "consumer_group": unique("solo"),
            }
        )
    )
    try:
        async with solo.router.lifespan_context(solo):
            await eventually(lambda: _processed_at_least(reference, distinct), 300, "reference run complete")
        expected = await fingerprint(reference)
    finally:
        await reference.dispose()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{reference_schema}" CASCADE'))
    assert len(faulty) == len(expected) and len(set(faulty)) == len(faulty)  # no duplicate domain event
    assert faulty == expected  # no event missing, none different
    assert await processed(engine) == distinct
