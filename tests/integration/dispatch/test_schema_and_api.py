"""Migrations 0009 and 0013 create exactly the tables services/dispatch/adapters/tables.py declares, and downgrade; the
dispatcher's HTTP face (/healthz, /readyz, /metrics, its OpenAPI document) is fuzzed by schemathesis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Table, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import services.tables  # noqa: F401  (every table on the shared metadata)
from services.common.db import metadata
from services.common.migrate import downgrade, upgrade
from services.common.settings import ServiceSettings
from services.dispatch.adapters import tables
from tests.integration.dispatch.conftest import dispatch_settings, start_dispatcher, write_subscriptions
from tests.integration.dispatch.receiver import Receiver
from tests.stack import eventually

DISPATCH_TABLES = {t.name for t in vars(tables).values() if isinstance(t, Table)}


def _ours(diff: Any) -> bool:
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item[1:]:
            names = {part} if isinstance(part, str) else {getattr(part, "name", None)}
            names.add(getattr(getattr(part, "table", None), "name", None))
            if names & DISPATCH_TABLES:
                return True
    return False


async def test_the_dispatch_migration_matches_the_declared_tables_and_downgrades(
    settings: ServiceSettings, engine: AsyncEngine
) -> None:
    assert len(DISPATCH_TABLES) == 6
    schema = settings.database_schema
    await upgrade(settings.database_url, schema)

    def differences(sync: Any) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if _ours(d)]

    def names(sync: Any) -> set[str]:
        return set(inspect(sync).get_table_names(schema=schema))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        assert DISPATCH_TABLES <= await conn.run_sync(names)
    await downgrade(settings.database_url, schema, "0008")
    async with engine.connect() as conn:
        assert not DISPATCH_TABLES & await conn.run_sync(names)
    await upgrade(settings.database_url, schema)


@pytest.fixture
async def dispatch_url(
    settings: ServiceSettings,
    engine: AsyncEngine,
    topics: list[str],
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[str]:
    await upgrade(settings.database_url, settings.database_schema)
    mql = {"name": "mql", "moments": ["stage_entered"], "endpoints": ["receiver"]}
    dispatch = dispatch_settings(
        settings, write_subscriptions(tmp_path / "s.yaml", receiver.url, [mql]), receiver, monkeypatch
    )
    proc, url = start_dispatcher(dispatch, receiver, tmp_path / "dispatch.log")
    try:
        async with httpx.AsyncClient(timeout=2) as client:

            async def ready() -> bool:
                assert proc.poll() is None, (tmp_path / "dispatch.log").read_text()[-2000:]
                return (await client.get(f"{url}/readyz")).status_code == 200

            await eventually(ready, 60, "the dispatcher ready")
            metrics = (await client.get(f"{url}/metrics")).text
            assert 'stagetrack_dispatch_pending_deliveries{endpoint="receiver"} 0.0' in metrics
            assert 'stagetrack_dispatch_endpoint_paused{endpoint="receiver"} 0.0' in metrics
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def dispatch_api(dispatch_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{dispatch_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("dispatch_api")


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_dispatcher_answer_5xx(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error], timeout=10)
