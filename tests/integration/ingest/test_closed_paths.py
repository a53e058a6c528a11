"""STAGETRACK_OPEN_PATHS closes the ingest's operational paths as it does the engine's and the KPI's: a closed
/metrics needs a `read:kpi` key, a closed /openapi.json any live key; refusals in the ingest's error shape."""

from __future__ import annotations

import httpx

from services.common.keys import KeyStore
from services.ingest.app.bootstrap import create_app
from services.ingest.app.settings import IngestSettings


async def test_closed_metrics_and_documents_need_a_key(ingest_settings: IngestSettings, key_store: KeyStore) -> None:
    monitor, crm = await key_store.create("prometheus", ["read:kpi"]), await key_store.create("crm", ["crm"])
    app = create_app(ingest_settings.model_copy(update={"open_paths": "/healthz,/readyz"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:

            async def status(path: str, key: str | None = None) -> int:
                headers = {"authorization": f"Bearer {key}"} if key else {}
                return (await client.get(path, headers=headers)).status_code

            metrics = [await status("/metrics", key) for key in (None, crm, monitor)]
            document = [await status("/openapi.json", key) for key in (None, crm)]
            probe = await status("/healthz")
            refused = (await client.get("/metrics")).json()
    assert metrics == [401, 403, 200]
    assert document == [401, 200]
    assert probe == 200
    assert refused["errors"][0]["field"] == "authorization" and refused["accepted"] == 0
