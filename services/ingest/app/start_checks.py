"""Checks the ingest makes at start-up, outside development, that its settings alone cannot: a connector that
is configured must be reachable with a live key of its scope, or every delivery it sends would be refused."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.api_keys import KeyInfo
from services.ingest.app.settings import IngestSettings


def connector_key_problems(settings: IngestSettings, keys: Sequence[KeyInfo]) -> list[str]:
    """One sentence per configured connector without a live key of its scope, naming the setting.

    Only Salesforce needs one: its Outbound Message URL carries a `connector:salesforce` key as its path token.
    HubSpot's deliveries are authenticated by their signature (`STAGETRACK_HUBSPOT_APP_SECRET`)."""
    if settings.environment == "development" or settings.salesforce_organization_id is None:
        return []
    live = [k for k in keys if k.revoked_at is None and "connector:salesforce" in k.scopes]
    if live:
        return []
    return [
        "STAGETRACK_SALESFORCE_ORGANIZATION_ID is set but no live connector:salesforce key exists: create one with "
        "`stagetrack keys create --source salesforce --scope connector:salesforce` and put it in the Outbound "
        "Message URL (/v1/connectors/salesforce/KEY), or unset the setting to turn the connector off"
    ]
