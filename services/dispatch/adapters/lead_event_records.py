"""Reading one stagetrack.lead-events record with the kernel's lead-event contract.

The outbox writes `{"position", "lead_id", "version", "event"}` (the event as the kernel's codec writes it),
keyed by the lead id. A record that does not read as that is the dispatcher's poison: `UnreadableRecord`
with the reason, and the intake sets it aside.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import ConsumerRecord

from services.common.lead_events.event_codec import CodecError, from_dict
from services.dispatch.domain.follow import LeadRecord

MAX_REASON = 2000


class UnreadableRecord(ValueError):
    pass


def read_record(record: ConsumerRecord) -> LeadRecord:
    try:
        data: Any = orjson.loads(record.value)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise UnreadableRecord(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UnreadableRecord(f"expected a JSON object, got {type(data).__name__}")
    position, lead_id, version, event = (data.get(k) for k in ("position", "lead_id", "version", "event"))
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise UnreadableRecord(f"position must be a positive integer, not {position!r}"[:MAX_REASON])
    if not isinstance(lead_id, str) or not lead_id:
        raise UnreadableRecord(f"position {position}: lead_id must be a non-empty string")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UnreadableRecord(f"position {position}: version must be an integer")
    if not isinstance(event, dict):
        raise UnreadableRecord(f"position {position}: event must be a JSON object")
    try:
        domain_event = from_dict(event)
    except (CodecError, ValueError, TypeError) as exc:
        raise UnreadableRecord(f"position {position}: {exc}"[:MAX_REASON]) from exc
    if domain_event.lead_id != lead_id:
        raise UnreadableRecord(f"position {position}: the event's lead {domain_event.lead_id!r} is not {lead_id!r}")
    if domain_event.occurred_at.tzinfo is None:
        raise UnreadableRecord(f"position {position}: occurred_at has no UTC offset")
    return LeadRecord(
        position=position,
        lead_id=lead_id,
        version=version,
        event=domain_event,
        partition=record.partition,
        recorded_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
    )
