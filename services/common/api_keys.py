"""API keys as values: the scopes a key may hold, the key's hashed form, the identity-verification hash a site's
server computes, and the records the key store hands out. Pure; the store itself is `services.common.keys`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

# What each scope may do (docs/security.md "Scopes" holds the same table for readers).
SCOPE_TABLE: dict[str, str] = {
    "tracker": "web event types only (page/screen views, tracked, form_submitted, identified, alias, group); "
    "a lead_id only with a valid identity-verification hash; from browsers only at its listed origins; "
    "analytics.js' settings document",
    "crm": "every event type, on /v1/events and the Segment routes",
    "connector:hubspot": "the HubSpot connector's route",
    "connector:salesforce": "the Salesforce connector's route (the key is the path token)",
    "read:leads": "the engine's /v1/leads and /v1/accounts",
    "read:kpi": "the KPI's /v1/kpi/*",
    "erase": "the deletion and export routes",
}
SCOPES: tuple[str, ...] = tuple(SCOPE_TABLE)

KEY_PREFIX = "stk_"
LEAD_ID_SECRET_PREFIX = "stv_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def lead_id_hash(secret: str, lead_id: str) -> str:
    """The identity-verification hash a site's server computes: hex HMAC-SHA256 of the lead id."""
    return hmac.new(secret.encode(), lead_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    id: int
    source: str
    scopes: frozenset[str]
    origins: tuple[str, ...]  # tracker keys: allowed web origins (may be empty)
    key_prefix: str
    lead_id_secret: str | None = field(default=None, repr=False, compare=False)

    def verifies(self, lead_id: str, presented_hash: object) -> bool:
        """True when `presented_hash` is HMAC-SHA256(lead_id) with this key's secret (constant-time compare)."""
        if self.lead_id_secret is None or not isinstance(presented_hash, str):
            return False
        return hmac.compare_digest(lead_id_hash(self.lead_id_secret, lead_id), presented_hash.lower())


@dataclass(frozen=True)
class KeyInfo:
    id: int
    source: str
    key_prefix: str
    scopes: tuple[str, ...]
    origins: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    key: str
    lead_id_secret: str | None  # tracker keys: printed once, given to the site's server
