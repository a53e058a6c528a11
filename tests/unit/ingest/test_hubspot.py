"""HubSpot connector, pure parts: the v3 signature check (against hubspot-api-client's own signer) and the mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hubspot.utils.signature import Signature

from services.ingest.domain.hubspot import HubSpotMapping, map_hubspot_event, map_hubspot_items
from services.ingest.domain.hubspot_signature import SignatureRefused, verify_signature
from services.ingest.domain.problems import Problem

SECRET = "app-secret"
URI = "https://ingest.example.com/v1/connectors/hubspot"
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
BODY = '[{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 7, "occurredAt": 1777626000000}]'


def _ts(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def _verify(body: str = BODY, *, secret: str = SECRET, signed_at: datetime = NOW, sign_body: str = BODY) -> None:
    timestamp = _ts(signed_at)
    signature = Signature.get_signature(secret, sign_body, "v3", URI, "POST", timestamp)
    verify_signature(
        SECRET, method="POST", uri=URI, body=body.encode(), signature=signature, timestamp=timestamp, now=NOW
    )


def test_a_signature_made_by_hubspots_client_is_accepted() -> None:
    _verify()
    _verify(signed_at=NOW - timedelta(seconds=299))
    _verify(signed_at=NOW + timedelta(seconds=299))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"body": BODY.replace("7", "8")}, "does not match"),
        ({"secret": "another-secret"}, "does not match"),
        ({"signed_at": NOW - timedelta(seconds=301)}, "old"),
        ({"signed_at": NOW + timedelta(seconds=301)}, "future"),
    ],
)
def test_tampered_wrong_secret_old_or_future_is_refused(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(SignatureRefused, match=reason):
        _verify(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [(None, "1", "Signature-v3 is missing"), ("x", None, "Timestamp is missing"), ("x", "soon", "whole number")],
)
def test_missing_headers_are_refused(signature: str | None, timestamp: str | None, reason: str) -> None:
    with pytest.raises(SignatureRefused, match=reason):
        verify_signature(SECRET, method="POST", uri=URI, body=b"[]", signature=signature, timestamp=timestamp, now=NOW)


def _event(**fields: object) -> dict[str, object]:
    return {"eventId": 100, "occurredAt": 1777626000000, "portalId": 1, **fields}


MAPPING = HubSpotMapping()


def test_contact_creation_is_identified_under_the_contact_id() -> None:
    [event] = map_hubspot_event(_event(subscriptionType="contact.creation", objectId=7), MAPPING)
    assert event == {
        "event_id": "hubspot-100",
        "type": "identified",
        "occurred_at": "2026-05-01T09:00:00+00:00",
        "lead_id": "hubspot-contact-7",
        "anonymous_id": "hubspot-contact-7",
        "properties": {},
    }


def test_lifecycle_stage_changes_follow_the_mapping() -> None:
    sql = _event(
        subscriptionType="contact.propertyChange",
        objectId=7,
        propertyName="lifecyclestage",
        propertyValue="salesqualifiedlead",
    )
    [event] = map_hubspot_event(sql, MAPPING)
    assert isinstance(event, dict) and event["type"] == "meeting_scheduled"
    assert map_hubspot_event({**sql, "propertyValue": "marketingqualifiedlead"}, MAPPING) == []
    custom = HubSpotMapping(lifecycle_stages={"marketingqualifiedlead": "lead_accepted"}, deal_stages={})
    [event] = map_hubspot_event({**sql, "propertyValue": "marketingqualifiedlead"}, custom)
    assert isinstance(event, dict) and event["type"] == "lead_accepted"
    assert map_hubspot_event({**sql, "propertyName": "email"}, MAPPING) == []


def test_deal_events_carry_the_deal_and_fill_required_properties() -> None:
    won = _event(
        subscriptionType="deal.propertyChange", objectId=55, propertyName="dealstage", propertyValue="closedwon"
    )
    [event] = map_hubspot_event(won, MAPPING)
    assert isinstance(event, dict)
    assert (event["type"], event["anonymous_id"], event["properties"]) == (
        "opportunity_won",
        "hubspot-deal-55",
        {"opportunity_id": "55", "amount": "0"},
    )
    assert "lead_id" not in event
    [lost] = map_hubspot_event({**won, "propertyValue": "closedlost"}, MAPPING)
    assert isinstance(lost, dict) and lost["properties"] == {"opportunity_id": "55", "reason": "closedlost"}
    [created] = map_hubspot_event(_event(subscriptionType="deal.creation", objectId=55), MAPPING)
    assert isinstance(created, dict) and created["type"] == "opportunity_created"


def test_merge_links_each_merged_contact_to_the_primary() -> None:
    merge = _event(subscriptionType="contact.merge", objectId=9, primaryObjectId=9, mergedObjectIds=[9, 3, 4])
    events = map_hubspot_event(merge, MAPPING)
    assert [(e["event_id"], e["anonymous_id"], e["lead_id"]) for e in events if isinstance(e, dict)] == [
        ("hubspot-100-3", "hubspot-contact-3", "hubspot-contact-9"),
        ("hubspot-100-4", "hubspot-contact-4", "hubspot-contact-9"),
    ]


def test_a_deal_contact_association_links_the_deal_to_the_contact() -> None:
    link = _event(
        subscriptionType="deal.associationChange",
        associationType="DEAL_TO_CONTACT",
        fromObjectId=55,
        toObjectId=7,
        associationRemoved=False,
    )
    [event] = map_hubspot_event(link, MAPPING)
    assert isinstance(event, dict)
    assert (event["type"], event["anonymous_id"], event["lead_id"]) == (
        "identified",
        "hubspot-deal-55",
        "hubspot-contact-7",
    )
    assert map_hubspot_event({**link, "associationRemoved": True}, MAPPING) == []


def test_unmappable_items_name_the_field() -> None:
    assert map_hubspot_event([], MAPPING) == [Problem("", "must be a JSON object (one HubSpot subscription event)")]
    problems = map_hubspot_event({"subscriptionType": "contact.creation"}, MAPPING)
    assert {p.field for p in problems if isinstance(p, Problem)} == {"eventId", "occurredAt"}
    problems = map_hubspot_event(_event(subscriptionType="contact.creation"), MAPPING)
    assert problems == [Problem("objectId", "is required (a whole number or a string id)")]
    assert map_hubspot_event(_event(subscriptionType="company.creation", objectId=1), MAPPING) == []


def test_a_webhook_maps_item_by_item_and_each_event_remembers_its_item() -> None:
    merge = _event(subscriptionType="contact.merge", primaryObjectId=9, mergedObjectIds=[3, 4, 9])
    ignored = _event(subscriptionType="company.creation", objectId=1)
    broken = {"eventId": 7, "subscriptionType": "contact.creation"}
    batch = map_hubspot_items(
        [broken, merge, ignored, _event(subscriptionType="contact.creation", objectId=5)], MAPPING
    )
    assert [e["event_id"] for e in batch.events if isinstance(e, dict)] == [
        "hubspot-100-3",
        "hubspot-100-4",
        "hubspot-100",
    ]
    assert batch.origin == [1, 1, 3]
    assert batch.errors == [
        {
            "index": 0,
            "event_id": "hubspot-7",
            "field": "occurredAt",
            "reason": "is required (milliseconds since the epoch)",
        }
    ]
    assert batch.ignored == 1
