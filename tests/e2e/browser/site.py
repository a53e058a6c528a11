"""examples/website served as `make demo` serves it, on a free port, with a config.js made for the test."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.browser.server import QuietHandler, serving
from tests.e2e.browser.tools import REPO, browser_tools

SITE_DIR = REPO / "examples" / "website"
VENDOR = "/vendor/analytics-next/"  # the npm bundle, for a site that hosts analytics.js itself (as make demo)


@dataclass(frozen=True)
class SiteConfig:
    """The fields of examples/website/site.js' window.STAGETRACK_SITE."""

    write_key: str
    cdn: str  # the ingest (or a stand-in): settings, lazy chunks, and the API under /v1
    bundle: str = ""  # where analytics.min.js comes from; "" is <cdn>/analytics.js/v1/<key>/analytics.min.js
    batching: bool = False
    lead_id: str = ""  # a visitor the site's server knows: the CRM id the contact form identifies with ...
    lead_id_hash: str = ""  # ... and its identity-verification hash, which site.js puts on every call naming it

    def script(self) -> bytes:
        fields = {"writeKey": self.write_key, "cdn": self.cdn, "bundle": self.bundle, "batching": self.batching}
        if self.lead_id:
            fields |= {"leadId": self.lead_id, "leadIdHash": self.lead_id_hash}
        return f"window.STAGETRACK_SITE = {json.dumps(fields)};\n".encode()


def _file(root: Path, relative: str) -> Path | None:
    """The file under root for a URL path, never outside it."""
    candidate = (root / relative).resolve()
    return candidate if candidate.is_file() and candidate.is_relative_to(root.resolve()) else None


@asynccontextmanager
async def website(config: SiteConfig, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Yields the site's origin (http://127.0.0.1:<free port>): a new origin each time, so a test decides
    whether its key allows it. /config.js is this config; /vendor/analytics-next/ is the npm bundle. A key made
    before the site (its origin in the key, the key in config.js) needs the port chosen first: `port`.
    `host="localhost"` keeps the loopback address out of the page's URLs (a test looking for the visitor's IP)."""
    chunks = browser_tools().analytics_next_chunks

    class SiteHandler(QuietHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/config.js":
                return self.reply(200, config.script(), "text/javascript")
            if path.startswith(VENDOR):
                found = _file(chunks, path.removeprefix(VENDOR))
            else:
                found = _file(SITE_DIR, path.lstrip("/") or "index.html")
            if found is None:
                return self.reply(404, b"not found", "text/plain")
            content_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
            self.reply(200, found.read_bytes(), content_type)

        do_HEAD = do_GET

    async with serving(SiteHandler, host, port) as origin:
        yield origin
