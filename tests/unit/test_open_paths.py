"""STAGETRACK_OPEN_PATHS: which operational paths answer without a key, and what a closed one needs
(docs/security.md "Reads")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.read_access import closed_paths
from services.common.settings import ServiceSettings


def test_every_operational_path_is_open_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STAGETRACK_OPEN_PATHS", raising=False)
    assert closed_paths(ServiceSettings().open_path_set) == {}


def test_closed_paths_name_the_scope_they_need(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGETRACK_OPEN_PATHS", " /healthz , /readyz ")
    assert closed_paths(ServiceSettings().open_path_set) == {
        "/metrics": "read:kpi",
        "/docs": None,  # any live key
        "/docs/oauth2-redirect": None,
        "/redoc": None,
        "/openapi.json": None,
    }
    assert set(closed_paths(ServiceSettings(open_paths="").open_path_set)) >= {"/healthz", "/readyz", "/metrics"}


def test_an_unknown_path_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="'/v1/kpi/stages' is not one of /healthz, /readyz"):
        ServiceSettings(open_paths="/healthz,/v1/kpi/stages")
