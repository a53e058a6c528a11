"""`stagetrack export` and POST /v1/exports: everything stored about a person, decrypted, as JSON (the right of
access). The store's side (leads, their events, activity, the reads of them) comes from PostgreSQL; the events
the person sent come from `stagetrack.events`, read to its end, their sealed fields opened with the person's
data keys (a field whose key was erased reads "erased"). docs/privacy.md "Export".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import EnvelopeError, Event, decode
from services.common.personal.identity import ANONYMOUS, CRM, EMAIL_HASH
from services.common.personal.person_keys import data_keys
from services.common.personal.sealed_event import opened_properties, sealed_key_id
from services.stage_engine.adapters.export_queries import key_ids_of, stored_about
from services.stage_engine.adapters.log_reader import LogReader
from services.stage_engine.app.erasure import Subject, subject_leads
from services.stage_engine.app.settings import EngineSettings


async def export(db: AsyncEngine, settings: EngineSettings, subject: Subject) -> dict[str, Any]:
    async with db.connect() as conn:
        leads, identities = await subject_leads(conn, subject, settings.hash_key)
        stored = await stored_about(conn, leads)
        key_ids = await key_ids_of(conn, identities)
        keys = await data_keys(conn, settings.master, key_ids)
    causes = {row["cause_event_id"] for row in stored["lead_events"]}
    events = [
        _event_dict(event, keys)
        for event in await _log_events(settings)
        if event.event_id in causes or _names(event, identities) or sealed_key_id(event) in key_ids
    ]
    return {
        "subject": {"kind": subject.kind},
        "identities": sorted([kind, value] for kind, value in identities),
        **stored,
        "events": events,
    }


def _names(event: Event, identities: set[tuple[str, str]]) -> bool:
    named = {(EMAIL_HASH, event.email_hash), (CRM, event.lead_id), (ANONYMOUS, event.anonymous_id)}
    return bool(named & identities)


def _event_dict(event: Event, keys: dict[str, bytes]) -> dict[str, Any]:
    properties, opened = opened_properties(event, keys)
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "received_at": event.received_at.isoformat(),
        "source": event.source,
        "anonymous_id": event.anonymous_id,
        "lead_id": event.lead_id,
        "account_id": event.account_id,
        "properties": properties,
        "personal_fields_readable": opened,
    }


async def _log_events(settings: EngineSettings) -> list[Event]:
    """Every envelope on the events topic up to its end now (what does not decode is no one's envelope)."""
    reader = LogReader(
        settings.kafka_bootstrap_servers,
        settings.events_topic,
        settings.max_batch_records,
        client_id="stagetrack-export",
        security=settings.kafka_security,
    )
    found: list[Event] = []
    await reader.start()
    try:
        for partition in reader.partitions:
            while not reader.exhausted(partition):
                for record in await reader.read(partition):
                    try:
                        found.append(decode(record.value))
                    except EnvelopeError:
                        continue
    finally:
        await reader.stop()
    return found
