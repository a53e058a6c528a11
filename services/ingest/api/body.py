"""Reads a request body within the size limits, gunzips it safely, parses JSON."""

from __future__ import annotations

import zlib

import orjson
from fastapi import Request

from services.ingest.api.errors import RequestRefused


async def read_json(request: Request, max_bytes: int) -> object:
    raw = await _read_limited(request, max_bytes)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        raw = _gunzip_limited(raw, max_bytes)
    elif encoding not in ("identity", ""):
        raise RequestRefused(415, "content-encoding", f"content encoding {encoding!r} is not supported; use gzip")
    if not raw:
        raise RequestRefused(400, "body", 'the body is empty; send a JSON event or {"events": [...]}')
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestRefused(400, "body", f"the body is not valid JSON: {exc}") from exc


async def read_raw(request: Request, max_bytes: int) -> bytes:
    """The body as sent (no gunzip): for connectors whose signature covers the raw bytes."""
    return await _read_limited(request, max_bytes)


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestRefused(413, "body", f"the body is {declared} bytes; the limit is {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestRefused(413, "body", f"the body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip_limited(raw: bytes, max_bytes: int) -> bytes:
    """Decompresses at most max_bytes + 1 bytes, so a small bomb never expands in memory."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise RequestRefused(400, "content-encoding", f"the body is not valid gzip: {exc}") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise RequestRefused(413, "body", f"the decompressed body exceeds the limit of {max_bytes} bytes")
    return out
