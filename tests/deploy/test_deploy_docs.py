"""docs/deploy.md lists every setting the services read, with the default the settings classes have."""

from __future__ import annotations

import re

from tests.deploy.settings_reference import settings
from tests.deploy.tools import REPO

ROW = re.compile(r"^\| `(STAGETRACK_[A-Z0-9_]+)` \| `([^`]*)` \|", re.MULTILINE)


def test_every_setting_is_listed_with_its_default() -> None:
    listed: dict[str, str] = {}
    for variable, default in ROW.findall((REPO / "docs" / "deploy.md").read_text(encoding="utf-8")):
        assert variable not in listed, f"{variable} is listed twice"
        listed[variable] = default
    expected = {variable: default for variable, (default, _) in settings().items()}
    missing = sorted(expected.keys() - listed.keys())
    assert not missing, f"docs/deploy.md does not list {missing} (python -m tests.deploy.settings_reference)"
    wrong = {v: (listed[v], expected[v]) for v in expected if listed[v] != expected[v]}
    assert not wrong, f"docs/deploy.md's defaults differ from the settings classes (listed, actual): {wrong}"
    unknown = sorted(listed.keys() - expected.keys())
    assert not unknown, f"docs/deploy.md lists settings no service reads: {unknown}"
