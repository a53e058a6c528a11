"""CRM connectors: HubSpot webhooks posted straight in (signed, mapped, validated, published like /v1/events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.common.auth import AuthRefused, authenticate, require
from services.common.keys import KeyStore
from services.ingest.api.body import read_raw
from services.ingest.api.errors import RequestRefused, error_body
from services.ingest.app.connector_intake import ConnectorIntake, ConnectorMetrics
from services.ingest.app.intake import BrokerUnavailable
from services.ingest.app.settings import IngestSettings
from services.ingest.domain import salesforce_soap
from services.ingest.domain.hubspot import HubSpotMapping
from services.ingest.domain.hubspot_signature import SignatureRefused, verify_signature
from services.ingest.domain.salesforce import SalesforceMapping

router = APIRouter(tags=["connectors"])

HUBSPOT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every mapped event is durable in Kafka; `errors` lists invalid items; `duplicates` counts "
        "events whose eventId was delivered before (acknowledged, not published again)"
    },
    400: {"description": "The body is not a JSON array of subscription events"},
    401: {"description": "Signature missing or wrong, or timestamp more than 5 minutes off"},
    404: {"description": "The HubSpot connector is not configured (no app secret)"},
    413: {"description": "Body or item count over the limit"},
    422: {"description": "No item could be mapped and validated"},
    503: {"description": "Kafka did not acknowledge in time; HubSpot retries, the ids stay the same"},
}


@router.post("/v1/connectors/hubspot", responses=HUBSPOT_RESPONSES, summary="HubSpot webhook (signature v3)")
async def hubspot(request: Request) -> JSONResponse:
    settings: IngestSettings = request.app.state.settings
    metrics: ConnectorMetrics = request.app.state.connector_metrics
    if settings.hubspot_app_secret is None:
        metrics.requests.labels("hubspot", "refused").inc()
        raise RequestRefused(404, "connector", "connector not configured: set STAGETRACK_HUBSPOT_APP_SECRET")
    raw = await read_raw(request, settings.max_body_bytes)
    try:
        verify_signature(
            settings.hubspot_app_secret.get_secret_value(),
            method=request.method,
            uri=settings.hubspot_webhook_url or str(request.url),
            body=raw,
            signature=request.headers.get("x-hubspot-signature-v3"),
            timestamp=request.headers.get("x-hubspot-request-timestamp"),
            now=datetime.now(UTC),
        )
    except SignatureRefused as exc:
        metrics.requests.labels("hubspot", "refused").inc()
        raise RequestRefused(401, "signature", str(exc)) from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        metrics.requests.labels("hubspot", "invalid").inc()
        raise RequestRefused(400, "body", "the body is not valid JSON") from None
    if not isinstance(body, list) or not body:
        metrics.requests.labels("hubspot", "invalid").inc()
        raise RequestRefused(400, "body", "the body must be a non-empty JSON array of subscription events")
    if len(body) > settings.max_events_per_request:
        metrics.requests.labels("hubspot", "invalid").inc()
        raise RequestRefused(413, "body", f"{len(body)} items; the limit is {settings.max_events_per_request}")
    mapping = HubSpotMapping(settings.hubspot_lifecycle_stages, settings.hubspot_deal_stages)
    connectors: ConnectorIntake = request.app.state.connectors
    result = await connectors.accept_hubspot(body, mapping)
    status = 422 if result.errors and not result.accepted and not result.duplicates else 200
    metrics.requests.labels("hubspot", "accepted" if status == 200 else "invalid").inc()
    answer = {**error_body(result.accepted, result.errors), "ignored": result.ignored, "duplicates": result.duplicates}
    return JSONResponse(answer, status_code=status)


SOAP_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "SOAP Ack: every mapped notification is durable in Kafka", "content": {"text/xml": {}}},
    400: {"description": "SOAP fault (Client): malformed or hostile XML, not an Outbound Message, foreign org"},
    401: {"description": "SOAP fault (Client): the path token is not a live key (unknown or revoked)"},
    403: {"description": "SOAP fault (Client): the path token's key lacks the connector:salesforce scope"},
    404: {"description": "SOAP fault (Client): the Salesforce connector is not configured"},
    413: {"description": "SOAP fault (Client): body over the limit"},
    503: {"description": "SOAP fault (Server): Kafka did not acknowledge; Salesforce resends"},
}


def _soap(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _soap_fault(metrics: ConnectorMetrics, status: int, reason: str) -> Response:
    """A SOAP fault, with a 4xx when the sender is at fault (Client) and 503 when we are (Server) rather than
    SOAP 1.1's blanket 500: Salesforce treats any answer without an Ack as a failure and resends."""
    code = "Server" if status >= 500 else "Client"
    metrics.requests.labels("salesforce", "refused" if code == "Client" else "unavailable").inc()
    return _soap(salesforce_soap.fault(code, reason), status)


NO_TOKEN = (
    "the Outbound Message URL must end with a key of scope connector:salesforce: "
    "/v1/connectors/salesforce/{token} (stagetrack keys create --source salesforce --scope connector:salesforce)"
)


@router.post(
    "/v1/connectors/salesforce",
    responses={401: {"description": "SOAP fault (Client): the URL lacks its key token"}},
    summary="Salesforce Outbound Message without its key token: always refused",
)
async def salesforce_without_token(request: Request) -> Response:
    return _soap_fault(request.app.state.connector_metrics, 401, NO_TOKEN)


@router.post(
    "/v1/connectors/salesforce/{token}", responses=SOAP_RESPONSES, summary="Salesforce Outbound Message (SOAP)"
)
async def salesforce_outbound(request: Request, token: str) -> Response:
    settings: IngestSettings = request.app.state.settings
    metrics: ConnectorMetrics = request.app.state.connector_metrics
    if settings.salesforce_organization_id is None:
        return _soap_fault(metrics, 404, "connector not configured: set STAGETRACK_SALESFORCE_ORGANIZATION_ID")
    store: KeyStore = request.app.state.keys
    try:
        # looked up by its SHA-256, never compared as text: the timing reveals nothing about the token
        require(await authenticate(request, store, token), "connector:salesforce", "post Salesforce Outbound Messages")
    except AuthRefused as exc:
        return _soap_fault(metrics, exc.status, exc.reason)
    try:
        raw = await read_raw(request, settings.max_body_bytes)
    except RequestRefused as exc:
        return _soap_fault(metrics, exc.status, exc.reason)
    try:
        message = salesforce_soap.parse(raw)
    except salesforce_soap.EnvelopeRefused as exc:
        return _soap_fault(metrics, 400, str(exc))
    if not salesforce_soap.same_organization(message.organization_id, settings.salesforce_organization_id):
        return _soap_fault(metrics, 400, "OrganizationId is not the configured organization")
    mapping = SalesforceMapping(settings.salesforce_lead_statuses, settings.salesforce_opportunity_stages)
    connectors: ConnectorIntake = request.app.state.connectors
    try:
        await connectors.accept_salesforce(message.notifications, mapping)
    except BrokerUnavailable as exc:
        return _soap_fault(metrics, 503, f"{exc}; Salesforce resends the same notification ids")
    metrics.requests.labels("salesforce", "accepted").inc()
    return _soap(salesforce_soap.ACK)
