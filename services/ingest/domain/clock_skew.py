"""Segment's clock-skew correction for calls from client-side libraries (docs/ingest-validation.md).

A browser or a phone stamps each call with its own clock, which is often wrong by minutes or hours; it also
stamps `sentAt` with the same clock when it sends. The delay between the two is right whatever the clock, so
the call happened at received_at − (sentAt − timestamp), Segment's documented correction. Server-side SDKs
(and historical imports) are trusted: their timestamps are kept as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.domain.timestamps import parse_rfc3339

# context.library.name of the libraries that run on the visitor's device, compared lower-cased: Segment's
# browser (analytics.js, also analytics-next from npm) and mobile SDKs, RudderStack's JavaScript and mobile SDKs.
CLIENT_SIDE_LIBRARIES = frozenset(
    {
        "analytics.js",
        "analytics-next",
        "analytics-ios",
        "analytics-android",
        "analytics-react-native",
        "@segment/analytics-react-native",
        "analytics-kotlin",
        "analytics-swift",
        "analytics-flutter",
        "rudderlabs javascript sdk",
        "com.rudderstack.android.sdk.core",
        "rudder-ios-library",
        "rudder-sdk-react-native",
        "rudder-sdk-flutter",
    }
)
_NO_DELAY = timedelta(0)


def is_client_side(context: Mapping[str, Any]) -> bool:
    library = context.get("library")
    name = library.get("name") if isinstance(library, Mapping) else None
    return isinstance(name, str) and name.lower() in CLIENT_SIDE_LIBRARIES


def corrected(occurred_at: object, sent_at: object, received_at: datetime) -> str | None:
    """received_at − (sentAt − occurred_at) as RFC 3339 in UTC, or None when either stamp is not an RFC 3339
    date-time (then the call's own stamp stands, and validation judges it). A negative delay (a stamp after
    the send) counts as none: nothing happens after the ingest received it."""
    if not isinstance(occurred_at, str) or not isinstance(sent_at, str):
        return None
    happened, sent = parse_rfc3339(occurred_at), parse_rfc3339(sent_at)
    if happened is None or sent is None:
        return None
    try:
        return (received_at - max(sent - happened, _NO_DELAY)).astimezone(UTC).isoformat()
    except OverflowError:  # a delay of millennia: the call's stamp stands, and the time window refuses it
        return None
