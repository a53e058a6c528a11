"""schemathesis over /openapi.json of a real `stagetrack serve kpi` (real PostgreSQL, its projector running over a
small store), with a `read:kpi` key: whatever the path and query parameters (valid by the document, or not), no
route answers 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.keys import bearer


@pytest.fixture
def kpi_api(kpi_server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{kpi_server}/openapi.json")


schema = schemathesis.pytest.from_fixture("kpi_api")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_kpi_service_answer_5xx(case: schemathesis.Case, kpi_key: str) -> None:
    case.call_and_validate(headers=bearer(kpi_key), checks=[not_a_server_error], timeout=30)
