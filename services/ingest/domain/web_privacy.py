"""What a page or screen view keeps of the browser or app that sent it (docs/privacy.md): the path, the UTM
parameters, the referrer's origin and a coarse device class; never the address, the user agent or the rest of
the query string.

Pure string work (no `urllib.parse`, which raises on some malformed URLs): a value that is not a string is
left alone for validation to report, and so is a string longer than the schemas allow (`MAX_URL_LENGTH`), so
that a reduction never turns a refused value into an accepted one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_URL_LENGTH = 4096  # page_viewed's url and referrer (a unit test holds it to the schema)
UTM_PREFIX = "utm_"
# Segment's context.campaign (analytics.js fills it from the page's utm_* parameters; `name` is utm_campaign)
CAMPAIGN_FIELDS = {"source": "utm_source", "medium": "utm_medium", "term": "utm_term", "content": "utm_content"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
_AUTHORITY_END = re.compile(r"[/?#\\]")


def reduce_anonymous_view(props: dict[str, Any]) -> None:
    """An anonymous view's properties, in place: `url` without its query string except UTM parameters and
    without its fragment, `referrer` reduced to its origin, `search` (the raw query string) dropped."""
    props.pop("search", None)
    url = props.get("url")
    if isinstance(url, str) and len(url) <= MAX_URL_LENGTH:
        props["url"] = url_with_utm_only(url)
    referrer = props.get("referrer")
    if isinstance(referrer, str) and referrer and len(referrer) <= MAX_URL_LENGTH:
        origin = referrer_origin(referrer)
        if origin is None:
            del props["referrer"]
        else:
            props["referrer"] = origin


def url_with_utm_only(url: str) -> str:
    """The URL without fragment, and with only its utm_* query parameters ("?a=1&utm_source=x" -> "?utm_source=x")."""
    head, _, query = url.partition("#")[0].partition("?")
    kept = [p for p in query.split("&") if p[: len(UTM_PREFIX)].lower() == UTM_PREFIX]
    return f"{head}?{'&'.join(kept)}" if kept else head


def referrer_origin(referrer: str) -> str | None:
    """scheme://host[:port]/ of an absolute URL, lower-cased, without user:password@, path, query or fragment
    (what a browser sends as the referrer across sites); None for a string that is not an absolute URL."""
    scheme, separator, rest = referrer.partition("://")
    if not separator or _SCHEME.match(scheme) is None:
        return None
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]  # user:password@ names someone: never kept
    return f"{scheme.lower()}://{host.lower()}/" if host else None


def campaign_properties(campaign: Mapping[str, Any]) -> dict[str, str]:
    """utm_source, utm_medium, utm_term, utm_content from Segment's context.campaign (strings only)."""
    return {key: value for field, key in CAMPAIGN_FIELDS.items() if isinstance(value := campaign.get(field), str)}


def device_class(context: Mapping[str, Any]) -> str | None:
    """mobile, tablet or desktop from what the library reports (the user agent, its client hints, a mobile
    SDK's device type); None when it reports nothing. The user agent itself is never kept."""
    agent = context.get("userAgent")
    if isinstance(agent, str) and agent:
        return _from_user_agent(agent)
    hints = context.get("userAgentData")
    if isinstance(hints, Mapping) and isinstance(hints.get("mobile"), bool):
        return "mobile" if hints["mobile"] else "desktop"
    device = context.get("device")
    if isinstance(device, Mapping):
        model, kind = device.get("model"), device.get("type")
        if isinstance(model, str) and model.lower().startswith("ipad"):
            return "tablet"
        if isinstance(kind, str) and kind.lower() in ("ios", "android"):
            return "mobile"
    return None


def _from_user_agent(agent: str) -> str:
    if "iPad" in agent or "Tablet" in agent or ("Android" in agent and "Mobile" not in agent):
        return "tablet"
    if "Mobi" in agent or "iPhone" in agent:
        return "mobile"
    return "desktop"
