"""What a key may post, event by event (docs/security.md "Scopes"): a `crm` key any type; a `tracker` key, published
in web pages, only web event types, and a `lead_id` only with its identity-verification hash."""

from __future__ import annotations

from services.common.api_keys import ApiKey

# The event types a web page or an app produces (Segment's page, screen, identify, alias and group calls map
# onto these too).
TRACKER_TYPES = frozenset({"page_viewed", "screen_viewed", "tracked", "form_submitted", "identified"})
POSTING_SCOPES = ("crm", "tracker")
LEAD_ID_HASH = "lead_id_hash"


def may_post(key: ApiKey) -> bool:
    return any(scope in key.scopes for scope in POSTING_SCOPES)


def out_of_scope(key: ApiKey, event: object, presented_hash: object) -> tuple[str, str] | None:
    """(field, reason) when `key` may not post `event`, else None. What is not an object, or has no type, is left
    to validation, which names the problem."""
    if "crm" in key.scopes or not isinstance(event, dict):
        return None
    kind = event.get("type")
    if kind is not None and kind not in TRACKER_TYPES:
        allowed = ", ".join(sorted(TRACKER_TYPES))
        return "type", f"a tracker key may not send {kind} (it may send {allowed}); send it with a crm key"
    lead_id = event.get("lead_id")
    if lead_id is not None and lead_id != "" and not key.verifies(str(lead_id), presented_hash):
        problem = "no lead_id_hash was sent" if presented_hash is None else "lead_id_hash does not match"
        return "lead_id", (
            f"a tracker key may send a lead_id only with its identity-verification hash ({problem}): "
            "hex HMAC-SHA256 of the lead_id keyed with the source's verification secret, computed by the site's server"
        )
    return None
