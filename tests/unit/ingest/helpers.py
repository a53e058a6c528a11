"""Builders for valid events and short ways to run the validator in tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.validation import EventValidator, ValidationResult

RECEIVED_AT = datetime(2024, 7, 1, 0, 0, 5, tzinfo=UTC)  # after every example event

# One valid `properties` per type, written from PRODUCT.md's table (not read from the schemas under test).
VALID_PROPERTIES: dict[str, dict[str, Any]] = {
    "page_viewed": {"path": "/pricing", "url": "https://example.com/pricing", "title": "Pricing"},
    "screen_viewed": {"name": "Pricing", "category": "Plans"},
    "content_downloaded": {"content_id": "wp-1", "campaign": "spring"},
    "email_clicked": {"campaign": "newsletter-5"},
    "webinar_attended": {"webinar_id": "wb-1"},
    "form_submitted": {"form_id": "demo", "email": "hanako@example.co.jp", "intent": "high"},
    "identified": {"email": "hanako@example.co.jp", "traits": {"company": "Example KK"}},
    "tracked": {"name": "Video Played", "video_id": "intro"},
    "lead_accepted": {"owner": "sato"},
    "call_logged": {"outcome": "connected"},
    "meeting_scheduled": {"owner": "suzuki", "scheduled_for": "2024-05-20T14:00:00+09:00"},
    "lead_disqualified": {"reason": "no budget"},
    "meeting_held": {"owner": "suzuki"},
    "opportunity_created": {"opportunity_id": "opp-1", "amount": "500000"},
    "opportunity_won": {"opportunity_id": "opp-1", "amount": 1200000, "currency": "JPY"},
    "opportunity_lost": {"opportunity_id": "opp-1", "reason": "competitor"},
    "onboarding_completed": {},
    "health_reported": {"score": 82},
    "renewal_won": {"amount": "600000"},
    "upsell_won": {"amount": "240000"},
    "cross_sell_won": {"amount": "180000", "product": "addon"},
    "churned": {"reason": "moved in-house"},
    "feedback_submitted": {
        "from_division": "field_sales",
        "to_division": "inside_sales",
        "about": "meeting",
        "rating": 4,
        "met_expectations": True,
    },
}

# The required properties per type, in bold in PRODUCT.md.
REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "page_viewed": ("path",),
    "screen_viewed": ("name",),
    "content_downloaded": ("content_id",),
    "email_clicked": ("campaign",),
    "webinar_attended": ("webinar_id",),
    "form_submitted": ("form_id", "email"),
    "tracked": ("name",),
    "lead_disqualified": ("reason",),
    "opportunity_created": ("opportunity_id",),
    "opportunity_won": ("opportunity_id", "amount"),
    "opportunity_lost": ("opportunity_id", "reason"),
    "health_reported": ("score",),
    "renewal_won": ("amount",),
    "upsell_won": ("amount",),
    "cross_sell_won": ("amount",),
    "churned": ("reason",),
    "feedback_submitted": ("from_division", "to_division", "about", "rating"),
}


def event(event_type: str = "page_viewed", **overrides: Any) -> dict[str, Any]:
    """A valid envelope dict of that type (known lead unless overridden); keyword overrides replace fields,
    a value of `...` removes the field."""
    item: dict[str, Any] = {
        "event_id": f"evt-{event_type}",
        "type": event_type,
        "occurred_at": "2024-05-01T09:30:00+09:00",
        "lead_id": "lead-1",
        "properties": copy.deepcopy(VALID_PROPERTIES.get(event_type, {})),
    }
    for key, value in overrides.items():
        if value is ...:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def anonymous(event_type: str = "page_viewed", **properties: Any) -> dict[str, Any]:
    """A tracker event: anonymous_id only, no lead_id."""
    props = {**copy.deepcopy(VALID_PROPERTIES.get(event_type, {})), **properties}
    return event(event_type, lead_id=..., anonymous_id="anon-1", properties=props)


def check(validator: EventValidator, *items: object) -> ValidationResult:
    return validator.validate_batch(list(items), source="crm", received_at=RECEIVED_AT)


def errors_of(validator: EventValidator, item: object) -> list[tuple[str, str]]:
    """(field, reason) of every error of one item; asserts it was refused."""
    result = check(validator, item)
    assert not result.accepted, f"expected a refusal, got {result.accepted}"
    return [(e.field, e.reason) for e in result.errors]


def accepted_properties(validator: EventValidator, item: object) -> dict[str, Any]:
    result = check(validator, item)
    assert result.errors == [], [e.as_dict() for e in result.errors]
    return dict(result.accepted[0][1].properties)
