"""A recording stand-in for the ingest's website side, as analytics.js needs it (docs/website.md, "What
analytics.js sends"): the bundle at Segment's CDN path, its lazy chunks, the settings document, CORS for the
allowed origins (preflights answered), and every request kept. For the harness's own test and for looking at
what the real library sends; it stores nothing and checks no key, so it proves nothing about the ingest."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.e2e.browser.server import QuietHandler, serving
from tests.e2e.browser.tools import browser_tools

T = TypeVar("T")
CALL_PATHS = {"t": "track", "p": "page", "i": "identify", "a": "alias", "g": "group", "s": "screen"}


def minimal_settings(write_key: str, api_origin: str) -> dict[str, Any]:
    """The smallest settings document analytics.js starts with and posts to `api_origin` with: without the
    "Segment.io" entry it ignores the page's apiHost and posts to api.segment.io; without apiKey it sends no
    writeKey and no Authorization. sampleRate 0 stops its own metrics posts (/v1/m)."""
    scheme, host = api_origin.split("://", 1)
    segmentio = {"apiKey": write_key, "apiHost": f"{host}/v1", "protocol": scheme}
    return {"integrations": {"Segment.io": segmentio}, "metrics": {"sampleRate": 0}}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


class AnalyticsRecorder:
    def __init__(self, write_key: str) -> None:
        self.write_key = write_key
        self.url = ""  # set once serving
        self.origins: set[str] = set()
        self._seen: list[Recorded] = []
        self._lock = threading.Lock()

    def allow_origin(self, origin: str) -> None:
        self.origins.add(origin)

    def seen(self) -> list[Recorded]:
        with self._lock:
            return list(self._seen)

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self._seen.append(entry)

    def calls(self, call_type: str | None = None) -> list[dict[str, Any]]:
        """Every call posted so far, in arrival order: single posts (/v1/t, /v1/p, ...) and batches (/v1/b)."""
        found: list[dict[str, Any]] = []
        for r in self.seen():
            if r.method != "POST":
                continue
            if r.path == "/v1/b":
                found.extend(r.json()["batch"])
            elif r.path.removeprefix("/v1/") in CALL_PATHS:
                found.append(r.json())
        return [c for c in found if call_type is None or c.get("type") == call_type]

    async def wait_for_calls(
        self, call_type: str, count: int, within: float, what: str, log: object = ""
    ) -> list[dict[str, Any]]:
        """Waits until at least `count` calls of the type arrived; returns them all."""

        def enough(_: list[Recorded]) -> list[dict[str, Any]] | None:
            calls = self.calls(call_type)
            return calls if len(calls) >= count else None

        return await self.wait_for(enough, within, what, log)

    async def wait_for(
        self, check: Callable[[list[Recorded]], T | None], within: float, what: str, log: object = ""
    ) -> T:
        """Polls `check` over what was recorded until it returns something other than None, or fails naming
        `what`, what was recorded, and `log` as it is then (a PageLog: the page's errors)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            result = check(self.seen())
            if result is not None:
                return result
            await asyncio.sleep(0.05)
        paths = [f"{r.method} {r.path}" for r in self.seen()]
        raise AssertionError(f"{what} did not happen within {within} s; recorded: {paths}\n{log}")


@asynccontextmanager
async def recording_ingest(write_key: str) -> AsyncIterator[AnalyticsRecorder]:
    recorder = AnalyticsRecorder(write_key)
    tools = browser_tools()
    bundle_path = f"/analytics.js/v1/{write_key}/analytics.min.js"

    class RecorderHandler(QuietHandler):
        def _cors(self) -> dict[str, str]:
            origin = self.headers.get("Origin", "")
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin in recorder.origins else {}

        def _record(self) -> bytes:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorder.record(Recorded(self.command, self.path, headers, body, time.time()))
            return body

        def do_OPTIONS(self) -> None:
            self._record()
            cors = self._cors()
            if cors:
                cors["Access-Control-Allow-Methods"] = "GET, POST"
                cors["Access-Control-Allow-Headers"] = self.headers.get("Access-Control-Request-Headers", "")
            self.reply(204, b"", "text/plain", cors)

        def do_GET(self) -> None:
            self._record()
            path = self.path.split("?", 1)[0]
            if path == f"/v1/projects/{write_key}/settings":
                body = json.dumps(minimal_settings(write_key, recorder.url)).encode()
                return self.reply(200, body, "application/json", self._cors())
            if path == bundle_path:
                return self.reply(200, tools.analytics_next.read_bytes(), "text/javascript")
            chunk = tools.analytics_next_chunks / path.rsplit("/", 1)[-1]
            if path.startswith("/analytics-next/bundles/") and chunk.is_file():
                return self.reply(200, chunk.read_bytes(), "text/javascript")
            self.reply(404, b'{"error": "not found"}', "application/json", self._cors())

        def do_POST(self) -> None:
            self._record()
            self.reply(200, b'{"success": true}', "application/json", self._cors())

    async with serving(RecorderHandler) as url:
        recorder.url = url
        yield recorder
