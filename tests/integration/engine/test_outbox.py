"""The outbox publishes every stored event once, keyed by lead, on the default partitioner's partition, in
store order per partition, and moves its cursor to the last position only after Kafka acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.stage_engine.adapters import outbox
from services.stage_engine.adapters.outbox import CURSOR, OutboxPublisher
from services.stage_engine.app.settings import EngineSettings
from tests.stack import consume, eventually

ROWS = 600
LEADS = 45


def _event(position: int) -> dict[str, object]:
    return {"type": "ScoreChanged", "new_score": position, "note": f"é \u2603 {'x' * (position % 90)}", "n": [1, 2.5]}


async def _store_rows(engine: AsyncEngine) -> list[tuple[int, str, int, dict[str, object]]]:
    at = datetime(2026, 10, 1, tzinfo=UTC)
    versions: dict[str, int] = {}
    rows = []
    for position in range(1, ROWS + 1):
        lead = f"lead-{position * 7 % LEADS}"
        versions[lead] = versions.get(lead, 0) + 1
        rows.append((position, lead, versions[lead], _event(position)))
    async with engine.begin() as conn:
        for position, lead, version, data in rows:
            await conn.execute(
                text(
                    "INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data) "
                    "VALUES (:p, :l, :v, 'ScoreChanged', 'e', :at, CAST(:d AS jsonb))"
                ),
                {
                    "p": position,
                    "l": lead,
                    "v": version,
                    "at": at + timedelta(seconds=position),
                    "d": orjson.dumps(data).decode(),
                },
            )
    return rows


async def _cursor(engine: AsyncEngine) -> int | None:
    async with engine.connect() as conn:
        position: int | None = await conn.scalar(
            text("SELECT position FROM outbox_cursor WHERE name = :n"), {"n": CURSOR}
        )
    return position


async def test_every_stored_event_is_published_once_by_lead_in_store_order(
    engine_settings: EngineSettings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "KAFKA_BATCH_BYTES", 2048)  # several Kafka batches per partition and read
    rows = await _store_rows(engine)
    acknowledged: list[int] = []
    publisher = OutboxPublisher(
        engine, engine_settings.kafka_bootstrap_servers, engine_settings.lead_events_topic, acknowledged.append, 37
    )
    task = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: _cursor_at(engine, ROWS), 60, "the cursor at the last position")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    published = await consume(engine_settings, engine_settings.lead_events_topic, ROWS)

    assert sorted(orjson.loads(r.value)["position"] for r in published) == list(range(1, ROWS + 1))
    stored = {position: (lead, version, data) for position, lead, version, data in rows}
    partitions = list(range(engine_settings.topic_partitions))
    for record in published:
        value = orjson.loads(record.value)
        lead, version, data = stored[value["position"]]
        assert value == {"position": value["position"], "lead_id": lead, "version": version, "event": data}
        assert record.key == lead.encode()
        assert record.partition == DefaultPartitioner()(record.key, partitions, partitions)
    for partition in partitions:
        in_log = [
            orjson.loads(r.value)["position"]
            for r in sorted(published, key=lambda r: r.offset)
            if r.partition == partition
        ]
        assert in_log == sorted(in_log), f"partition {partition} out of store order"
    assert acknowledged == sorted(acknowledged) and acknowledged[-1] == ROWS  # the metric's source


async def _cursor_at(engine: AsyncEngine, position: int) -> bool:
    return await _cursor(engine) == position
