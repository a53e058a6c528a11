"""analytics.js' files, for a site whose snippet takes the ingest as its CDN: the bundle at Segment's CDN path
and its lazy chunks (domain/library_files.py). Public files: no key is checked (the one in the bundle's path
is Segment's URL shape; the page's snippet gives the library its key), and none is in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response

from services.ingest.api.errors import RequestRefused
from services.ingest.domain.library_files import BUNDLE, LibraryFile

router = APIRouter(include_in_schema=False)
NOT_SERVED = (
    "analytics.js is not served by this ingest: set STAGETRACK_ANALYTICS_JS_DIR to the dist/umd folder of "
    "@segment/analytics-next (deploy/local/browser.sh fetches it), or serve the bundle from the site"
)


@router.get("/analytics.js/v1/{write_key}/analytics.min.js")
async def bundle(write_key: str, request: Request) -> Response:
    return _answer(request, BUNDLE)


@router.get("/analytics-next/bundles/{name}")
async def chunk(name: str, request: Request) -> Response:
    return _answer(request, name)


def _answer(request: Request, name: str) -> Response:
    files: Mapping[str, LibraryFile] | None = getattr(request.app.state, "library", None)
    if not files:
        raise RequestRefused(404, "path", NOT_SERVED)
    found = files.get(name)
    if found is None:
        raise RequestRefused(404, "path", f"no file {name[:100]!r} in analytics.js' folder")
    headers = {"Cache-Control": LibraryFile.cache_control(name), "Vary": "Accept-Encoding"}
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=LibraryFile.content_type(name), headers=headers)
    return Response(found.body, media_type=LibraryFile.content_type(name), headers=headers)
