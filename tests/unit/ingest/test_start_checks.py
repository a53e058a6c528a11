"""Outside development, a configured Salesforce connector without a live connector:salesforce key stops the
ingest's start, naming the setting and how to make the key."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.api_keys import KeyInfo
from services.ingest.app.settings import IngestSettings
from services.ingest.app.start_checks import connector_key_problems
from tests.personal import PRODUCTION_PERSONAL

PRODUCTION_DB = "postgresql+asyncpg://stagetrack:a-real-secret@db.internal:5432/stagetrack"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def key(*scopes: str, revoked: bool = False) -> KeyInfo:
    return KeyInfo(1, "sf", "stk_abc", scopes, (), NOW, NOW if revoked else None)


def settings(environment: str, organization: str | None = "00D000000000001") -> IngestSettings:
    return IngestSettings(
        environment=environment,
        database_url=PRODUCTION_DB,
        salesforce_organization_id=organization,
        **PRODUCTION_PERSONAL,  # type: ignore[arg-type]
    )


def test_production_with_salesforce_and_no_live_connector_key_is_refused_naming_the_setting() -> None:
    for keys in ([], [key("crm")], [key("connector:salesforce", revoked=True)]):
        problems = connector_key_problems(settings("production"), keys)
        assert len(problems) == 1 and "STAGETRACK_SALESFORCE_ORGANIZATION_ID" in problems[0], problems
        assert "--scope connector:salesforce" in problems[0]


def test_a_live_connector_key_an_unconfigured_connector_or_development_start() -> None:
    assert connector_key_problems(settings("production"), [key("connector:salesforce")]) == []
    assert connector_key_problems(settings("production", organization=None), []) == []
    assert connector_key_problems(settings("development"), []) == []
