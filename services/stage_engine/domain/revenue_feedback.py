"""RevenueBooked and FeedbackRecorded: what a revenue or feedback event books, besides any stage change.

Revenue is booked on every event the model's `revenue:` map names (a second deal for a customer is
still new revenue), whether or not the lead moves. The currency is the event's `currency` property, or
the deployment's reporting currency when absent (the ingest refuses other currencies unless it converts
them). Shares go to the divisions that owned a stage of this lead, including the stage this same event
moves it into (attribution.split_amount).
"""

from __future__ import annotations

from collections.abc import Set
from decimal import Decimal, InvalidOperation
from typing import Any

from services.common.envelope import Event
from services.common.lead_events.events import DomainEvent, FeedbackRecorded, RevenueBooked
from services.common.lead_events.money import decimal_text
from services.common.stage_model.model_types import StageModel
from services.stage_engine.domain.attribution import split_amount


class EventRejected(ValueError):
    """The event cannot be processed (a required property missing or malformed): dead-letter it."""


def revenue_and_feedback(lead_id: str, event: Event, model: StageModel, divisions: Set[str]) -> list[DomainEvent]:
    kind = model.revenue_kinds.get(event.type)
    if kind is not None:
        return [_revenue(lead_id, event, model, kind, divisions)]
    if event.type == "feedback_submitted":
        return [_feedback(lead_id, event)]
    return []


def _revenue(lead_id: str, event: Event, model: StageModel, kind: str, divisions: Set[str]) -> RevenueBooked:
    props = event.properties
    amount = _amount(event, props.get("amount"))
    currency = props.get("currency") or model.currency
    if not isinstance(currency, str):
        raise EventRejected(f"event {event.event_id}: currency must be a string")
    shares = split_amount(amount, currency, model.attribution[kind], divisions, model.divisions)
    reference = props.get("opportunity_id")
    return RevenueBooked(
        lead_id=lead_id,
        cause_event_id=event.event_id,
        occurred_at=event.occurred_at,
        kind=kind,
        amount=decimal_text(amount),
        currency=currency,
        shares=tuple((division, decimal_text(share)) for division, share in shares),
        model_version=model.version,
        account_id=event.account_id,
        reference=None if reference is None else str(reference),
    )


def _amount(event: Event, raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise EventRejected(f"event {event.event_id}: amount must be a decimal string, got {raw!r}")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise EventRejected(f"event {event.event_id}: amount {raw!r} is not a decimal number") from None
    if not amount.is_finite():
        raise EventRejected(f"event {event.event_id}: amount {raw!r} is not a finite number")
    return amount


def _feedback(lead_id: str, event: Event) -> FeedbackRecorded:
    props = event.properties
    missing = [key for key in ("from_division", "to_division", "about", "rating") if props.get(key) is None]
    if missing:
        raise EventRejected(f"event {event.event_id}: feedback_submitted lacks {', '.join(missing)}")
    rating = props["rating"]
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise EventRejected(f"event {event.event_id}: rating must be an integer 1..5, got {rating!r}")
    met = props.get("met_expectations")
    return FeedbackRecorded(
        lead_id=lead_id,
        cause_event_id=event.event_id,
        occurred_at=event.occurred_at,
        from_division=str(props["from_division"]),
        to_division=str(props["to_division"]),
        about=str(props["about"]),
        rating=rating,
        met_expectations=met if isinstance(met, bool) else None,
        reason_code=_text(props.get("reason_code")),
        campaign=_text(props.get("campaign")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
