"""Store records written straight into `lead_events`, as the engine appends them: what the KPI projector reads.

Positions come from the store's sequence in one transaction per `append` (a single writer, so they follow
commit order). Nothing here checks the records: a test can store what the engine never would (an amount the
projections cannot hold).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.lead_events.event_codec import to_dict
from services.common.lead_events.events import DomainEvent, LeadCreated, RevenueBooked, StageChanged
from services.common.lead_events.money import decimal_text
from services.common.stage_model.model import default_model
from services.kpi.adapters.transaction import transaction
from services.stage_engine.domain.attribution import split_amount

MODEL = default_model()
AT = datetime(2026, 10, 1, 9, tzinfo=UTC)
MAX_AMOUNT = "9999999999999999.9999"  # the largest the projections hold (numeric(20,4))
TOO_LARGE = "10000000000000000"  # the next one up: 10^16


class StoreWriter:
    """Appends records per lead with consecutive stream versions; remembers each record's position."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.positions: list[tuple[int, DomainEvent]] = []

    async def append(self, engine: AsyncEngine, events: Sequence[DomainEvent]) -> list[int]:
        positions = []
        async with transaction(engine) as conn:
            for event in events:
                version = self.versions.get(event.lead_id, 0) + 1
                self.versions[event.lead_id] = version
                data = to_dict(event)
                position = await conn.fetchval(
                    "INSERT INTO lead_events (position, lead_id, version, type, cause_event_id, occurred_at, data) "
                    "VALUES (nextval('lead_event_position_seq'), $1, $2, $3, $4, $5, $6::text::jsonb) "
                    "RETURNING position",
                    event.lead_id, version, data["type"], event.cause_event_id, event.occurred_at,
                    orjson.dumps(data).decode(),
                )  # fmt: skip
                positions.append(int(position))
                self.positions.append((int(position), event))
        return positions


def visitor(lead: str, at: datetime = AT) -> list[DomainEvent]:
    """LeadCreated and the first stage (visitor)."""
    return [
        LeadCreated(lead_id=lead, cause_event_id=f"{lead}-e", occurred_at=at, model_version=MODEL.version),
        moved(lead, None, "visitor", at),
    ]


def moved(lead: str, source: str | None, target: str, at: datetime) -> StageChanged:
    return StageChanged(
        lead_id=lead, cause_event_id=f"{lead}-{target}", occurred_at=at, from_stage=source, to_stage=target,
        to_division=MODEL.stages[target].division, rule="test", via=(), model_version=MODEL.version,
        event_occurred_at=at, from_entered_at=None, sla_due_at=None,
    )  # fmt: skip


def booking(lead: str, amount: str, at: datetime, n: int = 0) -> RevenueBooked:
    """A new deal of a lead that only marketing worked: the whole amount is marketing's share."""
    weights = MODEL.attribution["new"]
    shares = split_amount(Decimal(amount), "JPY", weights, {"marketing"}, list(MODEL.divisions))
    return RevenueBooked(
        lead_id=lead, cause_event_id=f"{lead}-won-{n}", occurred_at=at, kind="new", amount=amount, currency="JPY",
        shares=tuple((d, decimal_text(s)) for d, s in shares), model_version=MODEL.version,
    )  # fmt: skip


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
