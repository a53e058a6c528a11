"""schemathesis over /openapi.json of a real `stagetrack serve ingest` (real Kafka and PostgreSQL), with every
check it has: no 5xx; every status, content type, header and body as documented; every body the document
calls valid is accepted and every one it calls invalid is refused. The document and the ingest agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from services.common.keys import KeyStore
from services.ingest.app.settings import IngestSettings
from tests.integration.ingest.occurred_at_window import in_window
from tests.stack import served

CONFIG = Path(__file__).with_name("ingest-schemathesis.toml")


@pytest.fixture
async def fuzzed_ingest(
    ingest_settings: IngestSettings, key_store: KeyStore, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """`stagetrack serve ingest` (base URL, key) that never blocks the fuzzer's address: schemathesis sends
    bad credentials on purpose, and the failed-authentication limit (tested on its own) would turn every
    later answer into a 429."""
    key = await key_store.create("fuzz")
    no_limit = {"STAGETRACK_AUTH_FAILURE_LIMIT": "1000000"}
    async with served("ingest", ingest_settings, tmp_path / "ingest.log", **no_limit) as url:
        yield url, key


@pytest.fixture
def ingest_api(fuzzed_ingest: tuple[str, str]) -> schemathesis.BaseSchema:
    url, _ = fuzzed_ingest
    api = schemathesis.openapi.from_url(f"{url}/openapi.json", config=SchemathesisConfig.from_path(CONFIG))

    @api.hook
    def map_body(context: schemathesis.HookContext, body: Any) -> Any:
        return in_window(body)

    return api


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4's lazy loader reads `Node._nodeid`, which pytest 9.2 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("ingest_api")


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_ingest_does_what_its_openapi_document_says(
    case: schemathesis.Case, fuzzed_ingest: tuple[str, str]
) -> None:
    _, key = fuzzed_ingest
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, timeout=30)
