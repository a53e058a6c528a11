"""analytics.js' own files, served when the ingest is a site's analytics.js CDN (docs/ingest-http.md).

The standalone bundle of @segment/analytics-next is what Segment's CDN serves as `analytics.min.js`; it loads
its lazy chunks (`<name>.bundle.<hash>.js`) from `{cdn}/analytics-next/bundles/`. The chunks' names carry a
hash of their content, so they may be cached for good; the bundle's name does not, so only briefly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BUNDLE = "standalone.js"  # served as /analytics.js/v1/{writeKey}/analytics.min.js
BUNDLE_MAX_AGE_SECONDS = 300
CHUNK_MAX_AGE_SECONDS = 365 * 24 * 3600
_HASHED = re.compile(r"\.[0-9a-f]{16,}\.js(\.map)?\Z")
_SERVED = re.compile(r"[A-Za-z0-9_.\-]+\.js(\.map)?\Z")


@dataclass(frozen=True)
class LibraryFile:
    body: bytes
    gzipped: bytes | None = field(default=None, repr=False)  # the package's own .gz beside it, when present

    @staticmethod
    def content_type(name: str) -> str:
        return "application/json" if name.endswith(".map") else "text/javascript; charset=utf-8"

    @staticmethod
    def cache_control(name: str) -> str:
        seconds = CHUNK_MAX_AGE_SECONDS if _HASHED.search(name) else BUNDLE_MAX_AGE_SECONDS
        return f"public, max-age={seconds}" + (", immutable" if seconds == CHUNK_MAX_AGE_SECONDS else "")


def is_served(name: str) -> bool:
    """A file name the library folder may answer for: scripts and their source maps, no path, no dot file."""
    return _SERVED.fullmatch(name) is not None and not name.startswith(".")
