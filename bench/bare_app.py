"""Baseline (a) of the ingest bench: a bare FastAPI endpoint that only parses the same JSON body."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/v1/events")
async def parse_only(request: Request) -> JSONResponse:
    body = orjson.loads(await request.body())
    return JSONResponse({"accepted": len(body["events"])}, status_code=202)
