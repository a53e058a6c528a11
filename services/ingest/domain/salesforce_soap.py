"""Salesforce Outbound Messages (SOAP 1.1 notifications): safe parsing, the Ack and the fault (pure).

Parsing uses defusedxml with DTDs forbidden: a document type declaration of any kind (entity expansion
"billion laughs", external entities, external DTDs) makes the envelope refused, never parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

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
