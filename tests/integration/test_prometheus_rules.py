"""The Prometheus config is valid and every alert rule passes its promtool unit test."""

from __future__ import annotations

import subprocess

import yaml

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


def test_every_alert_has_a_unit_test() -> None:
    alerts = {
        rule["alert"]
        for path in (PROM / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in (PROM / "tests").glob("*.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert alerts - tested == set(), "alerts without a promtool unit test"
