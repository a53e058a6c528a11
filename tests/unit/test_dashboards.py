"""The committed Grafana JSON is exactly what deploy/grafana/generate.py makes, and every panel is well formed."""

from __future__ import annotations

import json

import yaml

from deploy.grafana import generate
from services.common.stage_model.model import default_model
from tests.stack import REPO

GRAFANA = REPO / "deploy" / "grafana"


def test_the_committed_dashboards_equal_the_generators_output() -> None:
    wanted = {name: generate.render(board) for name, board in generate.dashboards(default_model()).items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in (GRAFANA / "dashboards").glob("*.json")}
    assert committed.keys() == wanted.keys(), "run: .venv/bin/python deploy/grafana/generate.py"
    for name, text in wanted.items():
        assert committed[name] == text, f"{name} is out of date: run .venv/bin/python deploy/grafana/generate.py"
    assert generate.main(["--check"]) == 0


def test_a_page_per_division_and_the_pages_the_product_names() -> None:
    titles = {json.loads(generate.render(b))["title"] for b in generate.dashboards(default_model()).values()}
    assert {f"stagetrack / {d}" for d in ("Marketing", "Inside Sales", "Field Sales", "Customer Success")} <= titles
    for page in ("Funnel", "Revenue", "Customer Success", "Feedback", "Operations"):
        assert f"stagetrack / {page}" in titles


def test_panels_are_laid_out_and_use_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for board in generate.dashboards(default_model()).values():
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids)
        for p in board["panels"]:
            assert 0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
            for target in p.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}" and target["expr"].strip()
            if p["type"] not in ("text", "row"):
                assert p["targets"], p["title"]
        (datasource_variable, *_) = board["templating"]["list"]
        assert datasource_variable["name"] == "datasource" and datasource_variable["current"]["value"] == uid


def test_another_model_gets_its_own_pages() -> None:
    from services.common.stage_model.model import DEFAULT_MODEL_PATH, load_model

    text = DEFAULT_MODEL_PATH.read_text().replace("field_sales", "enterprise_sales")
    boards = generate.dashboards(load_model(text))
    assert "division-enterprise-sales.json" in boards and "division-field-sales.json" not in boards
    assert "enterprise_sales" in generate.render(boards["division-enterprise-sales.json"])


def test_a_variable_per_bounded_dimension_filters_the_panels_that_use_it() -> None:
    import re

    boards = generate.dashboards(default_model())
    for name in ("funnel.json", "revenue.json", "customer-success.json"):
        names = [v["name"] for v in boards[name]["templating"]["list"]]
        assert names == ["datasource", "source", "campaign", "segment"], name  # never owner or account
    for board in boards.values():
        declared = {v["name"] for v in board["templating"]["list"]}
        for p in board["panels"]:
            for target in p.get("targets", []):
                used = set(re.findall(r"\$\{?(\w+)\}?", target["expr"]))
                assert used <= declared, (board["title"], p["title"], used - declared)
    sliced = [
        t["expr"] for p in boards["funnel.json"]["panels"] for t in p.get("targets", []) if "by_slice" in t["expr"]
    ]
    assert len(sliced) == 5 * 3 and all('value=~"${' in expr for expr in sliced)


def test_the_operations_board_has_a_dispatcher_row() -> None:
    panels = generate.dashboards(default_model())["operations.json"]["panels"]
    (heading,) = [i for i, p in enumerate(panels) if p["type"] == "row"]
    assert panels[heading]["title"] == "Dispatcher (webhooks)" and panels[heading]["gridPos"]["x"] == 0
    exprs = " ".join(t["expr"] for p in panels[heading + 1 :] for t in p["targets"])
    for family in (
        "stagetrack_dispatch_deliveries_total",
        "stagetrack_dispatch_delivery_latency_seconds_bucket",
        "stagetrack_dispatch_pending_deliveries",
        "stagetrack_dispatch_oldest_pending_age_seconds",
        "stagetrack_dispatch_endpoint_paused",
    ):
        assert family in exprs, family
