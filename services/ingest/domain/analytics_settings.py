"""The settings documents the browser libraries load before anything else: analytics.js' from
`{cdnURL}/v1/projects/{writeKey}/settings`, RudderStack's JavaScript SDK's from `{configUrl}/sourceConfig/`.

Segment's CDN serves it for a write key; the ingest serves the least of it that makes the library (read from
@segment/analytics-next's source: browser/index.ts, plugins/segmentio) send every call here and fetch nothing
else: only the `Segment.io` integration (so no device-mode destination bundles are loaded), pointed at this
ingest (`apiHost` is host + "/v1": the library posts to `{protocol}://{apiHost}/{t,p,i,a,g,s}` and batches to
`.../b`), no bundled-integration metadata on each call, no remote plugins or middleware, and the library's own
usage metrics off (`sampleRate: 0`; they would go to Segment). `plan`, `edgeFunction` and
`analyticsNextEnabled` are there because Segment's document always has them; empty, they turn nothing on.
"""

from __future__ import annotations

from typing import Any


def api_host(base_url: str) -> tuple[str, str]:
    """(apiHost, protocol) for the library from the ingest's base URL ("https://track.example.jp/x/" ->
    ("track.example.jp/x/v1", "https"))."""
    scheme, _, rest = base_url.partition("://")
    return f"{rest.rstrip('/')}/v1", scheme.lower() or "https"


def analytics_js_settings(write_key: str, host: str, protocol: str) -> dict[str, Any]:
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": host,
                "protocol": protocol,
                "addBundledMetadata": False,
                "unbundledIntegrations": [],
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def rudderstack_source_config() -> dict[str, Any]:
    """The least source configuration RudderStack's JavaScript SDK (3.x) starts with (docs/website.md): enabled,
    no destinations, so no device-mode destination is fetched from RudderStack's CDN. It names nothing of the
    key: the SDK posts to the data plane URL its `load` was given."""
    return {"source": {"id": "stagetrack", "config": {}, "destinations": [], "enabled": True}}
