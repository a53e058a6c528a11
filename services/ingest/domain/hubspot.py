"""HubSpot webhooks: the mapping of subscription events onto envelopes (pure; the signature check is
hubspot_signature.py).

Mapping (see docs/connectors.md): every mapped event's id is `hubspot-<eventId>` (a merge yields one event per
merged contact: `hubspot-<eventId>-<mergedObjectId>`), so a redelivery carries the same ids and the stage
engine stores it once. `occurredAt` (ms) is `occurred_at`.

- A contact is the lead `hubspot-contact-<objectId>`, carried as lead_id AND as anonymous_id: the envelope can
  only link an anonymous id to a CRM id, so carrying both lets a merge join two contacts.
- `contact.creation` → identified.
- `contact.propertyChange` of `lifecyclestage` → the type the lifecycle mapping names for the new value.
- `contact.merge` → one identified per merged id: anonymous_id `hubspot-contact-<merged>`, lead_id
  `hubspot-contact-<primaryObjectId>`.
- A deal is carried as anonymous_id `hubspot-deal-<objectId>` (HubSpot's deal webhooks do not name the
  contact); `deal.associationChange` between a deal and a contact → identified linking the two.
- `deal.creation` → opportunity_created; `deal.propertyChange` of `dealstage` → the type the deal-stage mapping
  names. opportunity_id is the deal's objectId; `amount` is "0" (the webhook does not carry it);
  `reason` (lost, disqualified, churned) is the HubSpot stage value.

Anything else (other subscription types, other properties, stages with no mapping) is ignored, not an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.problems import Problem

DEFAULT_LIFECYCLE_STAGES: dict[str, str] = {
    "salesqualifiedlead": "meeting_scheduled",  # the-model enters sql on meeting_scheduled
    "opportunity": "meeting_held",  # enters opportunity; no deal id on a contact for opportunity_created
}
DEFAULT_DEAL_STAGES: dict[str, str] = {
    "closedwon": "opportunity_won",
    "closedlost": "opportunity_lost",
}
_REASON_TYPES = frozenset({"opportunity_lost", "lead_disqualified", "churned"})
_AMOUNT_TYPES = frozenset({"opportunity_won", "renewal_won", "upsell_won", "cross_sell_won"})


@dataclass(frozen=True)
class HubSpotMapping:
    lifecycle_stages: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LIFECYCLE_STAGES))
    deal_stages: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DEAL_STAGES))


def contact_id(object_id: str) -> str:
    return f"hubspot-contact-{object_id}"


def deal_id(object_id: str) -> str:
    return f"hubspot-deal-{object_id}"


def map_hubspot_event(item: object, mapping: HubSpotMapping) -> list[dict[str, object]] | list[Problem]:
    """One subscription event → its envelopes ([] = ignored), or the problems that make it unmappable."""
    if not isinstance(item, Mapping):
        return [Problem("", "must be a JSON object (one HubSpot subscription event)")]
    problems: list[Problem] = []
    event_id = _id_of(item, "eventId", problems)
    occurred_at = _occurred_at(item, problems)
    kind = item.get("subscriptionType")
    if not isinstance(kind, str) or not kind:
        problems.append(Problem("subscriptionType", "is required (a string)"))
    if problems:
        return problems
    assert event_id is not None and occurred_at is not None and isinstance(kind, str)
    base = f"hubspot-{event_id}"
    if kind == "contact.merge":
        return _merge(item, base, occurred_at)
    if kind in ("deal.associationChange", "contact.associationChange"):
        return _association(item, base, occurred_at)
    object_id = _id_of(item, "objectId", problems)
    if object_id is None:
        return problems
    if kind == "contact.creation":
        return [_contact_event(base, "identified", occurred_at, object_id, {})]
    if kind == "contact.propertyChange" and item.get("propertyName") == "lifecyclestage":
        target = _target(item, mapping.lifecycle_stages)
        if target is None:
            return []
        return [_contact_event(base, target, occurred_at, object_id, _filled(target, object_id, item))]
    if kind == "deal.creation":
        return [_deal_event(base, "opportunity_created", occurred_at, object_id, {"opportunity_id": object_id})]
    if kind == "deal.propertyChange" and item.get("propertyName") == "dealstage":
        target = _target(item, mapping.deal_stages)
        if target is None:
            return []
        return [_deal_event(base, target, occurred_at, object_id, _filled(target, object_id, item))]
    return []


@dataclass(frozen=True)
class MappedHubSpotItems:
    events: list[object]  # the envelopes of every mappable item, in item order
    origin: list[int]  # events[i] came from item origin[i]
    errors: list[dict[str, Any]]  # why an item cannot be mapped: index, event_id, field, reason
    ignored: int  # items no mapping applies to (not an error)


def map_hubspot_items(body: list[object], mapping: HubSpotMapping) -> MappedHubSpotItems:
    """A webhook's subscription events → their envelopes, each remembering the item it came from."""
    flat: list[object] = []
    origin: list[int] = []
    errors: list[dict[str, Any]] = []
    ignored = 0
    for index, item in enumerate(body):
        mapped = map_hubspot_event(item, mapping)
        if not mapped:
            ignored += 1
        for entry in mapped:
            if isinstance(entry, dict):
                flat.append(entry)
                origin.append(index)
            else:
                event_id = item.get("eventId") if isinstance(item, dict) else None
                known = f"hubspot-{event_id}" if isinstance(event_id, (int, str)) else None
                errors.append({"index": index, "event_id": known, "field": entry.field, "reason": entry.reason})
    return MappedHubSpotItems(flat, origin, errors, ignored)


def _target(item: Mapping[str, object], stages: Mapping[str, str]) -> str | None:
    value = item.get("propertyValue")
    return stages.get(value) if isinstance(value, str) else None


def _filled(event_type: str, object_id: str, item: Mapping[str, object]) -> dict[str, object]:
    """The required properties a webhook can fill: opportunity_id, amount ("0": not in the webhook), reason."""
    properties: dict[str, object] = {}
    if event_type.startswith("opportunity_"):
        properties["opportunity_id"] = object_id
    if event_type in _AMOUNT_TYPES:
        properties["amount"] = "0"
    if event_type in _REASON_TYPES:
        properties["reason"] = str(item.get("propertyValue"))
    return properties


def _contact_event(
    event_id: str, event_type: str, occurred_at: str, object_id: str, properties: dict[str, object]
) -> dict[str, object]:
    lead = contact_id(object_id)
    return {
        "event_id": event_id,
        "type": event_type,
        "occurred_at": occurred_at,
        "lead_id": lead,
        "anonymous_id": lead,
        "properties": properties,
    }


def _deal_event(
    event_id: str, event_type: str, occurred_at: str, object_id: str, properties: dict[str, object]
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": event_type,
        "occurred_at": occurred_at,
        "anonymous_id": deal_id(object_id),
        "properties": properties,
    }


def _link(event_id: str, occurred_at: str, anonymous_id: str, lead_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": "identified",
        "occurred_at": occurred_at,
        "anonymous_id": anonymous_id,
        "lead_id": lead_id,
        "properties": {},
    }


def _merge(item: Mapping[str, object], base: str, occurred_at: str) -> list[dict[str, object]] | list[Problem]:
    problems: list[Problem] = []
    primary = _id_of(item, "primaryObjectId", problems)
    merged = item.get("mergedObjectIds")
    if not isinstance(merged, list) or not merged:
        problems.append(Problem("mergedObjectIds", "is required (a non-empty array of ids)"))
        return problems
    merged_ids = [_as_id(m) for m in merged]
    if any(m is None for m in merged_ids):
        problems.append(Problem("mergedObjectIds", "must hold ids (whole numbers or strings)"))
    if problems or primary is None:
        return problems
    return [
        _link(f"{base}-{m}", occurred_at, contact_id(m), contact_id(primary))
        for m in merged_ids
        if m is not None and m != primary
    ]


def _association(item: Mapping[str, object], base: str, occurred_at: str) -> list[dict[str, object]] | list[Problem]:
    association = item.get("associationType")
    if association not in ("DEAL_TO_CONTACT", "CONTACT_TO_DEAL") or item.get("associationRemoved") is True:
        return []
    problems: list[Problem] = []
    source = _id_of(item, "fromObjectId", problems)
    target = _id_of(item, "toObjectId", problems)
    if source is None or target is None:
        return problems
    deal, contact = (source, target) if association == "DEAL_TO_CONTACT" else (target, source)
    return [_link(base, occurred_at, deal_id(deal), contact_id(contact))]


def _as_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value and len(value) <= 64:
        return value
    return None


def _id_of(item: Mapping[str, object], key: str, problems: list[Problem]) -> str | None:
    found = _as_id(item.get(key))
    if found is None:
        problems.append(Problem(key, "is required (a whole number or a string id)"))
    return found


def _occurred_at(item: Mapping[str, object], problems: list[Problem]) -> str | None:
    value = item.get("occurredAt")
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(Problem("occurredAt", "is required (milliseconds since the epoch)"))
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        problems.append(Problem("occurredAt", "is out of range"))
        return None
