"""`stagetrack dead-letters`: an operator lists what the engine dead-lettered and the KPI projector set aside,
and re-sends an engine dead letter to the events topic exactly once."""

from __future__ import annotations

import subprocess

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.kafka import durable_producer
from services.common.migrate import upgrade
from services.common.settings import ServiceSettings
from tests.stack import REPO, consume, settings_env


def stagetrack(settings: ServiceSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "stagetrack"), "dead-letters", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_list_and_redrive(settings: ServiceSettings, engine: AsyncEngine, topics: list[str]) -> None:
    await upgrade(settings.database_url, settings.database_schema)
    envelope = b'{"event_id":"held-back","type":"page_viewed"}'
    producer = durable_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:  # what the engine writes when the store refuses an event
        headers = [
            ("reason", b"DataError: refused by the store"),
            ("origin", f"{settings.events_topic}/0/7".encode()),
            ("event_id", b"held-back"),
        ]
        sent = await producer.send_and_wait(settings.dead_letter_topic, envelope, key=b"a1", headers=headers)
    finally:
        await producer.stop()
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO kpi_set_aside (position, lead_id, event_type, reason) VALUES (42, 'L1', 'X', 'too big')")
        )

    listed = stagetrack(settings, "list")
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    engine_id = f"engine:{sent.partition}:{sent.offset}"
    assert [(row[0], row[2], row[3]) for row in lines] == [
        (engine_id, "held-back", "waiting"),
        ("kpi:42", "L1 X", "waiting"),
    ]
    assert "refused by the store" in lines[0][4] and lines[1][4] == "too big"

    first = stagetrack(settings, "redrive", "--id", engine_id)
    assert first.returncode == 0 and "engine: 1 re-published" in first.stdout, first.stdout + first.stderr
    again = stagetrack(settings, "redrive", "--id", engine_id)
    assert again.returncode == 0 and "engine: 0 re-published" in again.stdout, again.stdout + again.stderr
    resent = await consume(settings, settings.events_topic, 1, within=15)
    assert [(r.key, r.value) for r in resent] == [(b"a1", envelope)]
    assert "redriven" in stagetrack(settings, "list").stdout.splitlines()[0]

    refused = stagetrack(settings, "redrive", "--id", "nonsense")
    assert refused.returncode == 2 and "engine:<partition>:<offset> or kpi:<position>" in refused.stderr
