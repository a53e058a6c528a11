"""What `stagetrack dispatch failed` and `stagetrack dispatch resend ID` do (docs/dispatch.md "Dead letters").

`failed` lists the dead-lettered deliveries (id, endpoint, moment, lead, attempts, when, last error), then the
lead-event records the dispatcher set aside as unreadable. `resend` queues dead-lettered deliveries again: the
same body and webhook-id, a fresh retry horizon from now; the running dispatcher sends them within its poll
interval. A resent moment reaches its endpoint after the lead's later moments (those were not held behind it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.db import raw_connection
from services.common.service import database
from services.dispatch.app.settings import DispatchSettings


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    id: int
    endpoint: str
    moment_kind: str
    moment_id: str
    lead_id: str
    webhook_id: str
    attempts: int
    failed_at: datetime
    last_error: str | None


@dataclass(frozen=True, slots=True)
class SetAsideRecord:
    origin: str  # topic/partition/offset
    reason: str
    set_aside_at: datetime


async def list_failed(settings: DispatchSettings) -> tuple[list[FailedDelivery], list[SetAsideRecord]]:
    async with database(settings) as engine, engine.connect() as sa_conn:
        conn = await raw_connection(sa_conn)
        deliveries = await conn.fetch(
            "SELECT id, endpoint, moment_kind, moment_id, lead_id, webhook_id, attempts, finished_at AS failed_at, "
            "last_error FROM dispatch_deliveries WHERE state = 'failed' ORDER BY finished_at, id"
        )
        records = await conn.fetch(
            'SELECT topic, partition, "offset", reason, set_aside_at FROM dispatch_set_aside '
            'ORDER BY topic, partition, "offset"'
        )
    unreadable = [
        SetAsideRecord(f"{r['topic']}/{r['partition']}/{r['offset']}", r["reason"], r["set_aside_at"]) for r in records
    ]
    return [FailedDelivery(**dict(r)) for r in deliveries], unreadable


def delivery_ids(ids: Sequence[str]) -> list[int]:
    """The delivery ids as `dispatch failed` prints them; raises ValueError naming one that is not."""
    found = []
    for each in ids:
        if not each.isascii() or not each.isdigit():
            raise ValueError(f"{each!r} is not a delivery id: `stagetrack dispatch failed` lists them (e.g. 1234)")
        found.append(int(each))
    return found


async def resend(settings: DispatchSettings, ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Queues the dead-lettered deliveries `ids` again; returns (queued, not dead-lettered: unknown or pending)."""
    horizon = timedelta(seconds=settings.dispatch_retry_horizon_seconds)
    async with database(settings) as engine, engine.connect() as sa_conn:
        conn = await raw_connection(sa_conn)
        rows = await conn.fetch(
            "UPDATE dispatch_deliveries SET state = 'pending', next_attempt_at = now(), "
            "expires_at = now() + $2::interval, lease_until = NULL, finished_at = NULL "
            "WHERE id = ANY($1::bigint[]) AND state = 'failed' RETURNING id",
            list(ids),
            horizon,
        )
    queued = sorted(r["id"] for r in rows)
    return queued, sorted(set(ids) - set(queued))
