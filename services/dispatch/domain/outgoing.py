"""A moment addressed to an endpoint, rendered: the row the deliverer will send (and send again, identically)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.dispatch.domain.moments import Moment
from services.dispatch.domain.payloads import render
from services.dispatch.domain.signing import webhook_id
from services.dispatch.domain.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class NewDelivery:
    webhook_id: str
    moment_id: str
    moment_kind: str
    endpoint: str
    lead_id: str
    body: bytes
    recorded_at: datetime


def outgoing(moment: Moment, subscriptions: Subscriptions, lead_url_base: str) -> list[NewDelivery]:
    """One delivery per endpoint the subscriptions route the moment to, its body rendered in the endpoint's format."""
    out = []
    for addressed in subscriptions.route(moment):
        endpoint = subscriptions.endpoints[addressed.endpoint]
        shaped = addressed.moment
        out.append(
            NewDelivery(
                webhook_id=webhook_id(shaped.key, endpoint.name),
                moment_id=shaped.key,
                moment_kind=shaped.kind,
                endpoint=endpoint.name,
                lead_id=shaped.lead_id,
                body=render(shaped, endpoint.format, lead_url_base),
                recorded_at=shaped.recorded_at,
            )
        )
    return out
