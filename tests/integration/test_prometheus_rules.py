"""The Prometheus config is valid and every alert rule passes its promtool unit test."""

from __future__ import annotations

import subprocess

from tests.stack import REPO

PROM = REPO / "deploy" / "prometheus"


def test_config_is_valid(stack: None) -> None:
    result = subprocess.run(
        ["promtool", "check", "config", str(PROM / "prometheus.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests(stack: None) -> None:
    tests = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert tests, "no promtool rule tests found"
    result = subprocess.run(["promtool", "test", "rules", *tests], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
