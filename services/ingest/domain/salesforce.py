"""Salesforce Outbound Messages: the mapping of notifications onto envelopes (pure; parsing, Ack and fault are
salesforce_soap.py).

Mapping (see docs/connectors.md): the event id is `salesforce-<Notification Id>` (Salesforce resends a
notification with the same id, so a redelivery is the same event, stored once by the engine). Ids are
`salesforce-<record Id>`. occurred_at is the record's LastModifiedDate (else SystemModstamp): include one of
them in the outbound message's fields.

- Lead: lead_id and anonymous_id `salesforce-<Id>` (both: so a conversion can link it); Status through the
  lead-status mapping (unmapped status: ignored). A lead with ConvertedContactId additionally yields an
  identified linking the lead to `salesforce-<ConvertedContactId>` (event id `…-converted`).
- Contact: identified, lead_id `salesforce-<Id>`.
- Opportunity: StageName through the stage mapping (unmapped: ignored); opportunity_id = Id, amount = Amount,
  currency = CurrencyIsoCode when present, reason = StageName for a lost one; the lead is ContactId when the
  message carries it (lead_id), else the opportunity itself (anonymous_id `salesforce-<Id>`). Salesforce
  writes currency fields as xsd:double, in E notation from 10^7 on ("1.5E7"): the amount is rewritten as a
  plain decimal ("15000000"), then judged like any amount (its limit included: 1.0E16 is refused).
- AccountId, when present → account_id `salesforce-<AccountId>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from services.ingest.domain.problems import Problem
from services.ingest.domain.salesforce_soap import Notification

DEFAULT_LEAD_STATUSES: dict[str, str] = {
    "Working - Contacted": "lead_accepted",
    "Closed - Not Converted": "lead_disqualified",
}
DEFAULT_OPPORTUNITY_STAGES: dict[str, str] = {
    "Closed Won": "opportunity_won",
    "Closed Lost": "opportunity_lost",
}
_REASON_TYPES = frozenset({"opportunity_lost", "lead_disqualified", "churned"})
_PLAIN_DIGITS = 38  # past any amount validation accepts, short of an exponent that would spell out megabytes


@dataclass(frozen=True)
class SalesforceMapping:
    lead_statuses: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LEAD_STATUSES))
    opportunity_stages: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OPPORTUNITY_STAGES))


def plain_amount(text: str) -> str:
    """An xsd:double in plain decimal notation ("1.5E7" -> "15000000"); anything else (not a number, INF,
    NaN, a negative) unchanged, for validation to refuse with its own reason."""
    if "e" not in text.lower():
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite() or value.adjusted() > _PLAIN_DIGITS:
        return text  # not spelled out: validation refuses it (as not a decimal) without a huge string
    return format(value, "f")


def sf_id(record_id: str) -> str:
    return f"salesforce-{record_id}"


def map_notification(n: Notification, mapping: SalesforceMapping) -> list[dict[str, object]] | list[Problem]:
    """One notification → its envelopes ([] = ignored), or the problems that make it unmappable."""
    base = f"salesforce-{n.id}"
    record = n.fields.get("Id")
    occurred_at = n.fields.get("LastModifiedDate") or n.fields.get("SystemModstamp")
    problems = [
        Problem(f"sObject.{name}", "is required")
        for name, v in (("Id", record), ("LastModifiedDate", occurred_at))
        if not v
    ]
    if problems:
        return problems
    assert record is not None and occurred_at is not None
    common: dict[str, object] = {"occurred_at": occurred_at}
    if n.fields.get("AccountId"):
        common["account_id"] = sf_id(n.fields["AccountId"])
    if n.object_type == "Contact":
        return [{**common, "event_id": base, "type": "identified", "lead_id": sf_id(record), "properties": {}}]
    if n.object_type == "Lead":
        return _lead(n, mapping, base, record, common)
    if n.object_type == "Opportunity":
        return _opportunity(n, mapping, base, record, common)
    return []


@dataclass(frozen=True)
class MappedNotifications:
    events: list[object]  # the envelopes of every mappable notification, in order
    origin: list[int]  # events[i] came from notification origin[i]
    ignored: int  # notifications no mapping applies to (not an error)
    invalid: int  # notifications that cannot be mapped (acknowledged all the same: a resend is no better)


def map_notifications(notifications: Sequence[Notification], mapping: SalesforceMapping) -> MappedNotifications:
    """An Outbound Message's notifications → their envelopes, each remembering the notification it came from."""
    flat: list[object] = []
    origin: list[int] = []
    ignored = invalid = 0
    for index, notification in enumerate(notifications):
        mapped = map_notification(notification, mapping)
        if not mapped:
            ignored += 1
        elif all(isinstance(m, dict) for m in mapped):
            flat.extend(mapped)
            origin.extend(index for _ in mapped)
        else:
            invalid += 1
    return MappedNotifications(flat, origin, ignored, invalid)


def _lead(
    n: Notification, mapping: SalesforceMapping, base: str, record: str, common: dict[str, object]
) -> list[dict[str, object]]:
    who = {"lead_id": sf_id(record), "anonymous_id": sf_id(record)}
    events: list[dict[str, object]] = []
    status = n.fields.get("Status")
    target = mapping.lead_statuses.get(status) if status else None
    if target is not None:
        properties: dict[str, object] = {"reason": status} if target in _REASON_TYPES else {}
        events.append({**common, **who, "event_id": base, "type": target, "properties": properties})
    converted = n.fields.get("ConvertedContactId")
    if converted:
        link = {"anonymous_id": sf_id(record), "lead_id": sf_id(converted)}
        events.append({**common, **link, "event_id": f"{base}-converted", "type": "identified", "properties": {}})
    return events


def _opportunity(
    n: Notification, mapping: SalesforceMapping, base: str, record: str, common: dict[str, object]
) -> list[dict[str, object]]:
    stage = n.fields.get("StageName")
    target = mapping.opportunity_stages.get(stage) if stage else None
    if target is None:
        return []
    properties: dict[str, object] = {"opportunity_id": record}
    if "Amount" in n.fields:
        properties["amount"] = plain_amount(n.fields["Amount"])
    if "CurrencyIsoCode" in n.fields:
        properties["currency"] = n.fields["CurrencyIsoCode"]
    if target in _REASON_TYPES:
        properties["reason"] = stage
    contact = n.fields.get("ContactId")
    who = {"lead_id": sf_id(contact)} if contact else {"anonymous_id": sf_id(record)}
    return [{**common, **who, "event_id": base, "type": target, "properties": properties}]
