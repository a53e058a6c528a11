"""PostgreSQL out of reach: the ingest (a real `stagetrack serve ingest`) answers 503 with Retry-After in its JSON
error shape, logs the outage a bounded number of times, and keeps serving keys it confirmed live lately."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.faults import cuttable_proxy
from tests.integration.ingest.test_bad_input import page
from tests.stack import eventually, free_port, served


def _refused_database_url(settings: IngestSettings) -> str:
    """The same database URL on a port where nothing listens: every connection is refused."""
    return make_url(settings.database_url).set(port=free_port()).render_as_string(hide_password=False)


def _assert_postgres_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["accepted"] == 0 and body["rejected"] == 1
    [error] = body["errors"]
    assert error["index"] is None and error["field"] == "postgres"
    assert "PostgreSQL is out of reach" in error["reason"], error["reason"]


async def test_postgres_refusing_connections_is_a_503_with_retry_after_never_a_500(
    ingest_settings: IngestSettings, tmp_path: Path
) -> None:
    log = tmp_path / "ingest.log"
    url_env = {"STAGETRACK_DATABASE_URL": _refused_database_url(ingest_settings)}
    async with served("ingest", ingest_settings, log, **url_env) as url, httpx.AsyncClient(base_url=url) as client:
        started_lines = len(log.read_text().splitlines())
        for _ in range(20):
            response = await client.post("/v1/events", json=page(), headers={"Authorization": "Bearer stk_any"})
            _assert_postgres_unavailable(response)
        basic = base64.b64encode(b"stk_segment_write_key:").decode()
        response = await client.post("/v1/batch", json={"batch": []}, headers={"Authorization": f"Basic {basic}"})
        _assert_postgres_unavailable(response)
        written = log.read_text().splitlines()[started_lines:]
    errors = [line for line in written if " ERROR " in line or "Traceback" in line]
    # 21 refused requests: the outage is logged once with its traceback, then counted, never once per request
    assert sum("Traceback" in line for line in written) <= 1, "\n".join(written)
    assert len(errors) <= 2, "\n".join(written)


async def test_keys_confirmed_lately_are_served_through_a_database_outage_and_no_longer(
    ingest_settings: IngestSettings, key_store: KeyStore, tmp_path: Path
) -> None:
    known, revoked, unseen = [await key_store.create(name) for name in ("known", "revoked", "unseen")]
    async with cuttable_proxy(ingest_settings.database_url) as (proxy, database_url):
        env = {
            "STAGETRACK_DATABASE_URL": database_url,
            "STAGETRACK_KEY_CACHE_SECONDS": "0",  # every request asks PostgreSQL while it answers
            "STAGETRACK_KEY_FALLBACK_SECONDS": "3",
        }
        async with served("ingest", ingest_settings, tmp_path / "ingest.log", **env) as url:
            async with httpx.AsyncClient(base_url=url) as client:

                async def post(key: str) -> httpx.Response:
                    return await client.post("/v1/events", json=page(), headers={"Authorization": f"Bearer {key}"})

                assert (await post(known)).status_code == 202
                assert (await post(revoked)).status_code == 202
                await key_store.revoke(revoked[:12])
                assert (await post(revoked)).status_code == 401

                await proxy.cut()
                assert (await post(known)).status_code == 202, "a key confirmed live 3 s ago was refused"
                _assert_postgres_unavailable(await post(unseen))
                # a key answered unknown or revoked is remembered so: refused, never revived by the outage
                assert (await post(revoked)).status_code == 401

                async def fallback_over() -> bool:
                    return (await post(known)).status_code == 503

                await eventually(fallback_over, 10, "the known key refused once its fallback time ran out")
                _assert_postgres_unavailable(await post(known))

                await proxy.start()

                async def recovered() -> bool:
                    return (await post(unseen)).status_code == 202

                await eventually(recovered, 20, "the ingest answering again once PostgreSQL is back")
                assert (await post(revoked)).status_code == 401
