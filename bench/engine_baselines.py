"""The engine benchmark's baselines: writing the very rows the engine wrote, without the engine.

(A) raw asyncpg `executemany` into a copy of lead_events (same columns, keys and indexes).
(B) the `eventsourcing` library's PostgresApplicationRecorder (psycopg 3), configured by its POSTGRES_*
    settings, in a schema of its own: StoredEvent(lead, version, topic=type, state=the same JSON bytes).

Both commit one transaction (B: one `insert_events` call) per engine batch: the rows caused by the same
number of envelopes as the engine takes per batch (STAGETRACK_MAX_BATCH_RECORDS, default 500).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from bench.engine_process import connect
from services.common.settings import ServiceSettings

Row = tuple[int, str, int, str, str, datetime, str]  # position, lead_id, version, type, cause, occurred_at, data


async def engine_rows(settings: ServiceSettings, after_position: int) -> list[Row]:
    """The domain-event rows the engine appended after `after_position`, in store order."""
    conn = await connect(settings)
    try:
        records = await conn.fetch(
            "SELECT position, lead_id, version, type, cause_event_id, occurred_at, data::text AS data "
            "FROM lead_events WHERE position > $1 ORDER BY position",
            after_position,
        )
    finally:
        await conn.close()
    # jsonb's text form has spaces; the engine sends compact JSON (orjson), so the baselines do too.
    return [(*tuple(r)[:6], orjson.dumps(orjson.loads(r["data"])).decode()) for r in records]


def per_batch(rows: list[Row], envelopes: int) -> list[list[Row]]:
    """Consecutive rows grouped so that each group holds the rows caused by `envelopes` envelopes."""
    batches: list[list[Row]] = []
    causes: set[str] = set()
    for row in rows:
        if not batches or (row[4] not in causes and len(causes) == envelopes):
            batches.append([])
            causes = set()
        causes.add(row[4])
        batches[-1].append(row)
    return batches


async def raw_asyncpg(settings: ServiceSettings, batches: list[list[Row]]) -> float:
    conn = await connect(settings)
    try:
        await conn.execute("CREATE TABLE bench_lead_events_copy (LIKE lead_events INCLUDING ALL)")
        insert = (
            "INSERT INTO bench_lead_events_copy (position, lead_id, version, type, cause_event_id, occurred_at, data) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        started = time.perf_counter()
        for batch in batches:
            async with conn.transaction():
                await conn.executemany(insert, batch)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def eventsourcing_recorder(settings: ServiceSettings, batches: list[list[Row]]) -> float:
    schema = f"{settings.database_schema}_es"
    conn: asyncpg.Connection = await asyncpg.connect(
        settings.database_url.replace("+asyncpg", "", 1), ssl=settings.database_tls.ssl_argument()
    )
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        return await asyncio.to_thread(_append_with_eventsourcing, settings.database_url, schema, batches)
    finally:
        await drop_schema(settings, schema)


def _append_with_eventsourcing(database_url: str, schema: str, batches: list[list[Row]]) -> float:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresFactory
    from eventsourcing.utils import Environment

    url = make_url(database_url)
    env = Environment(
        "bench",
        {
            "POSTGRES_DBNAME": url.database or "",
            "POSTGRES_HOST": url.host or "",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_SCHEMA": schema,
        },
    )
    stored = [
        [
            StoredEvent(
                originator_id=uuid.UUID(lead_id),
                originator_version=version,
                topic=f"services.common.lead_events.events:{kind}",
                state=data.encode(),
            )
            for _, lead_id, version, kind, _, _, data in batch
        ]
        for batch in batches
    ]
    factory = PostgresFactory(env)
    try:
        recorder = factory.application_recorder()
        # Not timed: the pool's first connection and the composite type's registration.
        recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "warm-up", b"{}")])
        started = time.perf_counter()
        for batch in stored:
            recorder.insert_events(batch)
        return time.perf_counter() - started
    finally:
        factory.close()


async def drop_schema(settings: ServiceSettings, schema: str) -> None:
    conn: asyncpg.Connection = await asyncpg.connect(
        settings.database_url.replace("+asyncpg", "", 1), ssl=settings.database_tls.ssl_argument()
    )
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
