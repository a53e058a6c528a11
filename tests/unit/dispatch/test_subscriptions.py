"""Loading the subscriptions file: schema and cross-reference errors name the line; destinations are checked; a
secret is never shown; routing sends a moment to an endpoint once and shapes score crossings."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.stage_model.model import default_model
from services.dispatch.adapters.subscriptions_file import SubscriptionsError, load_subscriptions
from services.dispatch.domain.destinations import AllowList
from services.dispatch.domain.model_rules import ModelRules
from services.dispatch.domain.moments import Moment

RULES = ModelRules.of(default_model())
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
ENV = {"CRM_SECRET": SECRET}


def load(tmp_path: Path, data: Any, *, development: bool = True, allowed: str = "", env: Any = ENV) -> Any:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return load_subscriptions(path, RULES, development=development, allowed=AllowList.parse(allowed), environ=env)


def config(url: str = "https://hooks.example.com/x", **subscription: Any) -> dict[str, Any]:
    return {
        "endpoints": [
            {"name": "crm", "url": url, "secret_env": "CRM_SECRET"},
            {"name": "slack", "url": "https://hooks.slack.com/services/T/B/X", "format": "slack"},
        ],
        "subscriptions": [
            {"name": "mql", "moments": ["stage_entered"], "stages": ["mql"], "endpoints": ["crm", "slack"]},
            {"name": "hot", "moments": ["stage_entered", "score_crossed"], "score_at_least": 50, "endpoints": ["crm"]},
            *([subscription] if subscription else []),
        ],
    }


def moment(kind: str = "stage_entered", stage: str = "mql", **details: Any) -> Moment:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return Moment(kind, f"{kind}:7", "L", at, at, "e", stage, "marketing", (), details)  # type: ignore[arg-type]


def test_a_moment_goes_to_each_endpoint_once_and_a_crossing_names_its_threshold(tmp_path: Path) -> None:
    subs = load(tmp_path, config())
    assert sorted(a.endpoint for a in subs.route(moment())) == ["crm", "slack"]  # "hot" routes it to crm too: once
    assert [a.endpoint for a in subs.route(moment(stage="sal"))] == ["crm"]
    crossed = subs.route(moment("score_crossed", previous_score=45, score=55))
    assert [(a.moment.key, a.moment.details["threshold"]) for a in crossed] == [("score_crossed:7:50", 50)]
    assert subs.route(moment("score_crossed", previous_score=50, score=60)) == []  # already above: no crossing
    assert subs.endpoints["slack"].secret is None and repr(subs.endpoints["crm"].secret) == "Secret(****)"


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (
            {"url": "https://10.0.0.7/hook"},
            3,
            "endpoint 'crm' (subscriptions 'mql', 'hot'): destination https://10.0.0.7/… refused: 10.0.0.7 is a "
            "private address",
        ),
        ({"url": "http://hooks.example.com/x"}, 3, "only https destinations are allowed outside development"),
        ({"url": "https://user:pw@hooks.example.com/x"}, 3, "a user name or password in the URL is refused"),
        ({"secret_env": "MISSING"}, 4, "the environment variable MISSING is not set"),
        ({"url": "ftp://hooks.example.com/x"}, 3, "the scheme must be https"),
    ],
)
def test_an_endpoint_that_cannot_be_sent_to_is_refused_with_its_line(
    tmp_path: Path, change: dict[str, str], line: int, reason: str
) -> None:
    data = config()
    data["endpoints"][0].update(change)
    with pytest.raises(SubscriptionsError) as caught:
        load(tmp_path, data, development=False)
    assert caught.value.line == line and reason in caught.value.reason, caught.value


def test_the_allow_list_lets_a_private_destination_through_by_network_or_host(tmp_path: Path) -> None:
    assert load(tmp_path, config("https://10.0.0.7/hook"), allowed="10.0.0.0/8").endpoints["crm"]
    assert load(tmp_path, config("https://localhost:9000/hook"), allowed="localhost").endpoints["crm"]
    assert load(tmp_path, config("http://127.0.0.1:9000/hook"), allowed="127.0.0.1").endpoints["crm"]  # development


@pytest.mark.parametrize(
    ("subscription", "reason"),
    [
        ({"name": "x", "moments": ["stage_entered"], "stages": ["mqll"], "endpoints": ["crm"]}, "no stage 'mqll'"),
        ({"name": "x", "moments": ["sla_breached"], "divisions": ["sales"], "endpoints": ["crm"]}, "no division"),
        ({"name": "x", "moments": ["stage_entered"], "endpoints": ["nobody"]}, "no endpoint 'nobody'"),
        ({"name": "x", "moments": ["score_crossed"], "endpoints": ["crm"]}, "score_crossed needs score_at_least"),
        ({"name": "x", "moments": ["stage_entered"], "score_at_least": 3, "endpoints": ["crm"]}, "score_crossed only"),
        ({"name": "mql", "moments": ["stage_entered"], "endpoints": ["crm"]}, "subscription 'mql' is declared twice"),
        ({"name": "x", "moments": ["stage_left"], "endpoints": ["crm"]}, "'stage_left' is not one of"),
        ({"name": "x", "moments": ["stage_entered"], "endpoints": ["crm"], "when": "x"}, "unknown key 'when'"),
    ],
)
def test_a_subscription_the_model_or_the_endpoints_cannot_serve_is_refused(
    tmp_path: Path, subscription: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SubscriptionsError) as caught:
        load(tmp_path, config(**subscription))
    assert reason in str(caught.value) and caught.value.line is not None, caught.value


def test_a_sources_filter_keeps_the_moments_of_leads_from_those_sources(tmp_path: Path) -> None:
    google = {"name": "google", "moments": ["stage_entered"], "sources": ["google", "adwords"], "endpoints": ["crm"]}
    subscriptions = load(tmp_path, {**config(), "subscriptions": [google]})
    routed = [subscriptions.route(replace(moment(), source=source)) for source in ("google", "bing", None)]
    assert [len(r) for r in routed] == [1, 0, 0]
    no_source = replace(RULES, dimensions=frozenset({"campaign"}))
    path = tmp_path / "subscriptions.yaml"
    with pytest.raises(SubscriptionsError, match="the stage model has no dimension 'source'"):
        load_subscriptions(path, no_source, development=True, allowed=AllowList(), environ=ENV)


def test_secrets_are_checked_and_never_shown(tmp_path: Path) -> None:
    data = config()
    data["endpoints"][0] = {"name": "crm", "url": "https://hooks.example.com/x", "secret": "whsec_not!base64"}
    with pytest.raises(SubscriptionsError) as caught:
        load(tmp_path, data)
    assert "base64" in str(caught.value) and "not!base64" not in str(caught.value)
    data["endpoints"][0]["secret"] = SECRET
    with pytest.raises(SubscriptionsError, match="development only"):
        load(tmp_path, data, development=False)
    del data["endpoints"][0]["secret"]
    with pytest.raises(SubscriptionsError, match="needs a signing secret"):
        load(tmp_path, data)


def test_yaml_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(SubscriptionsError) as caught:
        load(tmp_path, "endpoints: []\nsubscriptions: []\nendpoints: []\n")
    assert caught.value.line == 3 and "duplicate key" in caught.value.reason
    assert load(tmp_path, "endpoints: []\nsubscriptions: []\n").subscriptions == ()
