"""Baseline (a) of the ingest bench: a bare FastAPI endpoint that only parses the same JSON body.

Served by the same uvicorn (one worker, same defaults) as `stagetrack serve ingest`; it answers as the ingest
does (202 and a small JSON body), so the difference is the ingest's own work: auth, validation, Kafka.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(title="bench: parse only")


@app.post("/v1/events", status_code=202)
async def parse_only(request: Request) -> JSONResponse:
    body = orjson.loads(await request.body())
    return JSONResponse({"accepted": len(body["events"]), "rejected": 0, "errors": []}, status_code=202)
