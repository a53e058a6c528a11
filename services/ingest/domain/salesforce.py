"""Salesforce Outbound Messages (SOAP 1.1 notifications): safe parsing, mapping onto envelopes, Ack and fault (pure).

Parsing uses defusedxml with DTDs forbidden: a document type declaration of any kind (entity expansion
"billion laughs", external entities, external DTDs) makes the envelope refused, never parsed.

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from services.ingest.domain.problems import Problem

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

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

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


def fault(code: str, reason: str) -> str:
    """A SOAP 1.1 fault; `code` is Client (the message is wrong) or Server (retry later)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:{code}</faultcode><faultstring>{escape(reason)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


class EnvelopeRefused(ValueError):
    """The body is not a safe, well-formed Outbound Message: answered with a SOAP fault, never an Ack."""


@dataclass(frozen=True)
class Notification:
    id: str
    object_type: str  # "Lead", "Opportunity", "Contact", ...
    fields: dict[str, str]  # field name → text (nil or empty fields are absent)


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    notifications: list[Notification]


@dataclass(frozen=True)
class SalesforceMapping:
    lead_statuses: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LEAD_STATUSES))
    opportunity_stages: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OPPORTUNITY_STAGES))


def parse(raw: bytes) -> OutboundMessage:
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise EnvelopeRefused(
            f"refused XML construct ({type(exc).__name__}): DTDs and entities are not accepted"
        ) from None
    except ParseError as exc:
        raise EnvelopeRefused(f"the body is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise EnvelopeRefused("the body is not a SOAP 1.1 envelope")
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise EnvelopeRefused("the SOAP body holds no Outbound Message <notifications>")
    organization = _text(notifications.find(f"{{{OUTBOUND_NS}}}OrganizationId"))
    if not organization:
        raise EnvelopeRefused("OrganizationId is missing")
    found = []
    for element in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        found.append(_notification(element))
    if not found:
        raise EnvelopeRefused("the message holds no Notification")
    return OutboundMessage(organization, found)


def same_organization(sent: str, configured: str) -> bool:
    """Org ids come as 15 (case-sensitive) or 18 characters; the first 15 identify the org."""
    return sent[:15] == configured[:15] and len(sent) in (15, 18)


def _notification(element: Element) -> Notification:
    notification_id = _text(element.find(f"{{{OUTBOUND_NS}}}Id"))
    sobject = element.find(f"{{{OUTBOUND_NS}}}sObject")
    if not notification_id or sobject is None:
        raise EnvelopeRefused("a Notification lacks its Id or sObject")
    declared = sobject.get(f"{{{XSI_NS}}}type", "")
    object_type = declared.rsplit(":", 1)[-1]
    fields: dict[str, str] = {}
    for child in sobject:
        name = child.tag.rsplit("}", 1)[-1]
        text = _text(child)
        if text and child.get(f"{{{XSI_NS}}}nil") != "true":
            fields[name] = text
    return Notification(notification_id, object_type, fields)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


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
