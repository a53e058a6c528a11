"""The ingest as a site's analytics.js CDN: the bundle at Segment's path and its chunks, from the folder named
by STAGETRACK_ANALYTICS_JS_DIR; nothing else of the file system."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings

CHUNK = "queryString.bundle.34b193ada8fe288d1bd1.js"


@pytest.fixture
async def cdn(ingest_settings: IngestSettings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    umd = tmp_path / "umd"
    umd.mkdir()
    (umd / "standalone.js").write_text("/* analytics.js */")
    (umd / "standalone.js.gz").write_bytes(gzip.compress(b"/* analytics.js */"))
    (umd / CHUNK).write_text("/* chunk */")
    (umd / "notes.txt").write_text("not served")
    (tmp_path / "secret.js").write_text("outside the folder")
    app = create_app(ingest_settings.model_copy(update={"analytics_js_dir": umd}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            yield client


async def test_the_bundle_at_segments_cdn_path_and_its_chunks(cdn: httpx.AsyncClient) -> None:
    bundle = await cdn.get("/analytics.js/v1/stk_any/analytics.min.js", headers={"Accept-Encoding": "identity"})
    assert bundle.status_code == 200 and bundle.text == "/* analytics.js */"
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.headers["cache-control"] == "public, max-age=300"
    zipped = await cdn.get("/analytics.js/v1/stk_any/analytics.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == "/* analytics.js */"  # httpx inflates
    chunk = await cdn.get(f"/analytics-next/bundles/{CHUNK}")
    assert chunk.status_code == 200 and "immutable" in chunk.headers["cache-control"]


@pytest.mark.parametrize("name", ["notes.txt", "..%2Fsecret.js", "missing.js", ".hidden.js"])
async def test_nothing_else_is_served(cdn: httpx.AsyncClient, name: str) -> None:
    assert (await cdn.get(f"/analytics-next/bundles/{name}")).status_code == 404
