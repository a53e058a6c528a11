"""The CRM connectors' use case: a webhook's mapped items go through the intake once per event id, every item's
outcome counted."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from services.ingest.adapters.deliveries import DeliveryLedger
from services.ingest.app.intake import Intake
from services.ingest.domain.hubspot import HubSpotMapping, map_hubspot_items
from services.ingest.domain.salesforce import SalesforceMapping, map_notifications
from services.ingest.domain.salesforce_soap import Notification

log = logging.getLogger(__name__)


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "stagetrack_connector_requests",
            "Connector requests by connector and outcome (accepted, refused, invalid)",
            ["connector", "outcome"],
            registry=registry,
        )
        self.items = Counter(
            "stagetrack_connector_items",
            "CRM items by connector and outcome (mapped, ignored, invalid)",
            ["connector", "outcome"],
            registry=registry,
        )


@dataclass(frozen=True)
class HubSpotResult:
    accepted: int
    duplicates: int  # events delivered before: acknowledged, not published again
    ignored: int  # items no mapping applies to
    errors: list[dict[str, Any]]  # invalid items by their index in the request, in index order


class ConnectorIntake:
    def __init__(self, intake: Intake, ledger: DeliveryLedger, metrics: ConnectorMetrics) -> None:
        self._intake = intake
        self._ledger = ledger
        self._metrics = metrics

    async def accept_hubspot(self, body: list[object], mapping: HubSpotMapping) -> HubSpotResult:
        """Raises BrokerUnavailable when Kafka did not acknowledge (HubSpot retries with the same ids)."""
        metrics = self._metrics
        batch = map_hubspot_items(body, mapping)
        errors, origin, ignored = batch.errors, batch.origin, batch.ignored
        accepted = duplicates = 0
        if batch.events:
            result = await self._intake.accept_once(batch.events, "hubspot", self._ledger)
            accepted, duplicates = result.accepted, result.duplicates
            errors += [{**e, "index": origin[e["index"]]} for e in result.errors]
        invalid = {e["index"] for e in errors}
        metrics.items.labels("hubspot", "ignored").inc(ignored)
        metrics.items.labels("hubspot", "invalid").inc(len(invalid))
        metrics.items.labels("hubspot", "mapped").inc(len(body) - ignored - len(invalid))
        errors.sort(key=lambda e: e["index"])
        return HubSpotResult(accepted, duplicates, ignored, errors)

    async def accept_salesforce(self, notifications: Sequence[Notification], mapping: SalesforceMapping) -> None:
        """Raises BrokerUnavailable when Kafka did not acknowledge (no Ack: Salesforce resends the same ids)."""
        metrics = self._metrics
        batch = map_notifications(notifications, mapping)
        origin, ignored, invalid = batch.origin, batch.ignored, batch.invalid
        if batch.events:
            result = await self._intake.accept_once(batch.events, "salesforce", self._ledger)
            invalid += len({origin[e["index"]] for e in result.errors})
            for error in result.errors:  # acknowledged and never resent: the log is where an operator sees why
                log.warning(
                    "Salesforce notification %d refused (acknowledged, not retried): %s: %s",
                    origin[error["index"]],
                    error["field"],
                    error["reason"],
                )
        # An invalid notification stays invalid on every resend: it is acknowledged, counted and never retried.
        metrics.items.labels("salesforce", "ignored").inc(ignored)
        metrics.items.labels("salesforce", "invalid").inc(invalid)
        metrics.items.labels("salesforce", "mapped").inc(len(notifications) - ignored - invalid)
