"""What the engine set aside, and sending it through again once the cause is fixed (`stagetrack dead-letters`).

`list_dead_letters` reads the dead-letter topic from its beginning to its end offsets. `redrive` re-publishes
the chosen dead letters' original records (value and key) to the events topic with the durable producer, so the
engine processes them again: an event stored meanwhile under the same event id is a duplicate and stays stored
once. Each redriven dead letter is recorded in `engine_redrives` in a transaction that commits only after Kafka
acknowledged every record: a second redrive does not publish it again, and a redrive that fails half-way
records nothing (the next one may publish a record twice; the engine stores it once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from services.common import db
from services.common.envelope import EnvelopeError, decode
from services.common.kafka import durable_producer
from services.stage_engine.adapters import redrive_ledger
from services.stage_engine.adapters.log_reader import LogReader
from services.stage_engine.app.settings import EngineSettings

REDRIVE_HEADER = "redrive_of"  # on a re-published record: the id of the dead letter it came from


@dataclass(frozen=True)
class DeadLetterEntry:
    id: str  # "engine:<partition>:<offset>" on the dead-letter topic
    topic: str  # where the record was taken from: topic, partition, offset
    partition: int
    offset: int
    event_id: str | None  # None: the record is not an envelope
    reason: str
    time: datetime  # when it was set aside
    redriven: bool
    value: bytes = field(repr=False)
    key: bytes | None = field(repr=False)


async def list_dead_letters(settings: EngineSettings) -> list[DeadLetterEntry]:
    records = await _read(settings)
    engine = db.create_engine(settings.database_url, settings.database_schema, tls=settings.database_tls)
    try:
        async with engine.connect() as conn:
            done = await redrive_ledger.redriven(conn, [_place(settings, r) for r in records])
    finally:
        await engine.dispose()
    return [_entry(r, _place(settings, r) in done) for r in records]


async def redrive(settings: EngineSettings, ids: Sequence[str] | None = None) -> int:
    """Re-publishes the dead letters `ids` (None: all) not redriven before; returns how many were published.
    An id that is not on the dead-letter topic raises LookupError naming it, before anything is published."""
    records = {_id(r): r for r in await _read(settings)}
    if ids is None:
        chosen = list(records.values())
    else:
        if unknown := [i for i in ids if i not in records]:
            raise LookupError(f"no dead letter with the id {', '.join(unknown)} (see `stagetrack dead-letters list`)")
        chosen = [records[i] for i in dict.fromkeys(ids)]
    engine = db.create_engine(settings.database_url, settings.database_schema, tls=settings.database_tls)
    try:
        async with engine.begin() as conn:
            fresh = await redrive_ledger.record(conn, [_place(settings, r) for r in chosen])
            todo = [r for r in chosen if _place(settings, r) in fresh]
            await _publish(settings, todo)  # raises: the transaction rolls back, nothing is recorded
    finally:
        await engine.dispose()
    return len(todo)


async def _read(settings: EngineSettings) -> list[ConsumerRecord]:
    topic = settings.dead_letter_topic
    reader = LogReader(
        settings.kafka_bootstrap_servers, topic, client_id="stagetrack-dead-letters", security=settings.kafka_security
    )
    await reader.start()
    try:
        records: list[ConsumerRecord] = []
        for partition in reader.partitions:
            while batch := await reader.read(partition):
                records += [r for r in batch if _header(r, "origin") is not None]
    finally:
        await reader.stop()
    return records


async def _publish(settings: EngineSettings, records: Sequence[ConsumerRecord]) -> None:
    if not records:
        return
    producer = durable_producer(
        settings.kafka_bootstrap_servers, security=settings.kafka_security, client_id="stagetrack-redrive"
    )
    await producer.start()
    try:
        sent = [
            await producer.send(settings.events_topic, r.value, key=r.key, headers=[(REDRIVE_HEADER, _id(r).encode())])
            for r in records
        ]
        for acknowledged in sent:
            await acknowledged
    finally:
        await producer.stop()


def _entry(record: ConsumerRecord, redriven: bool) -> DeadLetterEntry:
    topic, partition, offset = (_header(record, "origin") or "?/-1/-1").rsplit("/", 2)
    return DeadLetterEntry(
        id=_id(record),
        topic=topic,
        partition=int(partition),
        offset=int(offset),
        event_id=_header(record, "event_id") or _event_id(record.value),
        reason=_header(record, "reason") or "",
        time=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        redriven=redriven,
        value=record.value,
        key=record.key,
    )


def _id(record: ConsumerRecord) -> str:
    return f"engine:{record.partition}:{record.offset}"


def _place(settings: EngineSettings, record: ConsumerRecord) -> str:
    return f"{settings.dead_letter_topic}/{record.partition}/{record.offset}"


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


def _event_id(value: bytes | None) -> str | None:
    try:
        return decode(value or b"").event_id
    except EnvelopeError:
        return None
