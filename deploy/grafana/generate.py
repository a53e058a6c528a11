"""Grafana dashboards as code: plain dicts -> JSON under deploy/grafana/dashboards/, from the stage model.

    .venv/bin/python deploy/grafana/generate.py                  # rewrite the committed JSON (the-model)
    .venv/bin/python deploy/grafana/generate.py --check          # exit 1 when the committed JSON is out of date
    .venv/bin/python deploy/grafana/generate.py --model my.yaml --out /tmp/dashboards   # a deployment's own model

Stages, divisions, SLAs and revenue kinds come from the model, so a deployment with its own model generates
its own pages. Every query reads the KPI families with `max by (<their labels>)` first: each KPI replica
exposes the same numbers (they come from the database), so summing over instances would count them twice.
Every dashboard has a `datasource` variable (default: the provisioned Prometheus); the funnel, revenue and
customer-success pages also one variable per bounded dimension of the model (THE MODEL: source, campaign,
segment: their label values, `other` and `none`; All by default), which their "by <dimension>" panels filter
by. Every query is run against a real Prometheus in tests/e2e/test_grafana_queries.py and must return data,
with a dimension value selected.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from services.common.stage_model.model import default_model, load_model_file
from services.common.stage_model.model_types import StageModel

OUT = Path(__file__).resolve().parent / "dashboards"
PROVISIONED = "stagetrack-prometheus"  # provisioning/datasources/prometheus.yml
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
Target = tuple[str, str]  # (PromQL, legend)


def panel(
    title: str,
    targets: Sequence[Target],
    *,
    kind: str = "timeseries",
    unit: str = "short",
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> dict[str, Any]:
    instant = kind in ("stat", "bargauge", "table")
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": _options(kind),
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                "instant": instant,
                "range": not instant,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def note(title: str, content: str, *, width: int = 24, height: int = 3) -> dict[str, Any]:
    return {
        "type": "text",
        "title": title,
        "gridPos": {"w": width, "h": height},
        "options": {"mode": "markdown", "content": content},
    }


def row(title: str) -> dict[str, Any]:
    """A heading across the board: the panels after it, up to the next row, are its section."""
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def _options(kind: str) -> dict[str, Any]:
    if kind == "bargauge":
        return {"orientation": "horizontal", "displayMode": "basic", "reduceOptions": {"calcs": ["lastNotNull"]}}
    if kind == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value", "graphMode": "none"}
    return {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]}}


def variables(dimensions: Sequence[str]) -> list[dict[str, Any]]:
    """The datasource, then one multi-value variable per bounded dimension (All: any value, none and other)."""
    found: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {"text": PROVISIONED, "value": PROVISIONED},
            "hide": 0,
        }
    ]
    for name in dimensions:
        values = f'label_values(stagetrack_stage_leads_by_slice{{dimension="{name}"}}, value)'
        found.append(
            {
                "name": name,
                "label": name,
                "type": "query",
                "datasource": DATASOURCE,
                "query": {"query": values, "refId": f"{name}-values"},
                "definition": values,
                "multi": True,
                "includeAll": True,
                "allValue": ".*",
                "current": {"text": "All", "value": "$__all"},
                "refresh": 2,
                "sort": 1,
                "hide": 0,
            }
        )
    return found


def dashboard(
    uid: str, title: str, description: str, panels: Iterable[dict[str, Any]], dimensions: Sequence[str] = ()
) -> dict[str, Any]:
    laid_out, x, y, row_height = [], 0, 0, 0
    for number, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        laid_out.append({"id": number, **p, "gridPos": {"x": x, "y": y, "w": w, "h": h}})
        x, row_height = x + w, max(row_height, h)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["stagetrack"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": variables(dimensions)},
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["stagetrack"], "asDropdown": True, "title": "stagetrack"}],
        "panels": laid_out,
    }


# --- PromQL helpers -----------------------------------------------------------------------------------------


def one_of(names: Iterable[str]) -> str:
    return "|".join(names)


def leads(selector: str = "") -> str:
    return f"max by (stage) (stagetrack_stage_leads{selector})"


def time_in_stage(quantile: float, selector: str = "") -> str:
    buckets = f"increase(stagetrack_time_in_stage_seconds_bucket{selector}[7d])"
    return f"histogram_quantile({quantile}, max by (stage, le) ({buckets}))"


def feedback_mean(group: str, selector: str = "") -> str:
    labels = "from_division, to_division, about"
    ratings = f"sum by ({group}) (max by ({labels}) (increase(stagetrack_feedback_rating_sum{selector}[30d])))"
    counts = f"sum by ({group}) (max by ({labels}) (increase(stagetrack_feedback_rating_count{selector}[30d])))"
    return f"{ratings} / {counts}"


def feedback_count(group: str, selector: str = "") -> str:
    labels = "from_division, to_division, about"
    return f"sum by ({group}) (max by ({labels}) (increase(stagetrack_feedback_rating_count{selector}[30d])))"


def met_share(group: str) -> str:
    labels = "from_division, to_division, about, met"
    answered = f"max by ({labels}) (increase(stagetrack_feedback_expectations_total[30d]))"
    met = f'max by ({labels}) (increase(stagetrack_feedback_expectations_total{{met="true"}}[30d]))'
    return f"sum by ({group}) ({met}) / sum by ({group}) ({answered})"


def bounded(model: StageModel) -> list[str]:
    """The dimensions that are Prometheus labels (declared with max_values)."""
    return [d.name for d in model.dimensions if d.bounded]


def sliced(family: str, dimension: str, by: str, selector: str = "", window: str = "") -> str:
    """`family` restricted to the values the dimension's variable selects, summed over them by `by`."""
    labels = f'dimension="{dimension}", value=~"${{{dimension}}}"' + (f", {selector}" if selector else "")
    series = f"{family}{{{labels}}}"
    if window:
        series = f"increase({series}[{window}])"
    per = "kind" if family.startswith("stagetrack_revenue") else "stage"  # the family's own label besides value
    return f"sum by ({by}) (max by ({per}, value) ({series}))"


def slice_panels(model: StageModel, dimension: str) -> list[dict[str, Any]]:
    """The funnel for the values of `dimension` the variable selects (one dimension per series: no cross products)."""
    forward = [s for s in model.success_path[:-1]]
    exits = sliced("stagetrack_stage_forward_exits_by_slice_total", dimension, "stage", window="7d")
    entries = sliced("stagetrack_stage_entries_by_slice_total", dimension, "stage",
                     f'stage=~"{one_of(forward)}"', window="7d")  # fmt: skip
    return [
        panel(f"Balance per stage, {dimension} in ${dimension}",
              [(sliced("stagetrack_stage_leads_by_slice", dimension, "stage"), "{{stage}}")], width=8,
              description=f"Leads in each stage now whose {dimension} is one selected ({dimension} variable)."),
        panel(f"Balance by {dimension}", [(sliced("stagetrack_stage_leads_by_slice", dimension, "value"), "{{value}}")],
              width=8, description=f"Leads in any stage now, per {dimension} (other: past the model's max_values)."),
        panel(f"Inflow per stage (1 day), {dimension} in ${dimension}",
              [(sliced("stagetrack_stage_entries_by_slice_total", dimension, "stage", window="1d"), "{{stage}}")],
              width=8),
        panel(f"Period CVR (7 days), {dimension} in ${dimension}", [(f"{exits} / {entries}", "{{stage}}")],
              unit="percentunit", width=12,
              description="Forward outflow ÷ inflow over the trailing week, for the selected values."),
        panel(f"Leads overdue on an SLA, {dimension} in ${dimension}",
              [(sliced("stagetrack_stage_overdue_leads_by_slice", dimension, "stage"), "{{stage}}")], width=12),
    ]  # fmt: skip


# --- the dashboards -----------------------------------------------------------------------------------------


def funnel(model: StageModel) -> dict[str, Any]:
    return dashboard(
        "stagetrack-funnel",
        "stagetrack / Funnel",
        "THE MODEL's funnel: balance per stage and its trend, inflow and outflow, period CVR, SLAs, time in stage.",
        [
            panel("Balance now", [(leads(), "{{stage}}")], kind="bargauge", width=8,
                  description="Leads in each stage now (残高)."),
            panel("Balance per stage", [(leads(), "{{stage}}")], width=16,
                  description="The balance over time: the number to watch."),
            panel("Inflow per stage (1 day)", [("stagetrack:stage_entries:increase1d", "{{stage}}")],
                  description="Transitions into the stage over the trailing day; a re-entry counts again."),
            panel("Outflow per stage (1 day)", [("stagetrack:stage_exits:increase1d", "{{stage}}")],
                  description="Transitions out of the stage over the trailing day, all destinations."),
            panel(
                "Outflow by destination (1 day)",
                [("max by (from_stage, to_stage) "
                  '(increase(stagetrack_stage_transitions_total{from_stage!="none"}[1d]))',
                  "{{from_stage}} → {{to_stage}}")],
                width=24,
            ),
            panel("Period CVR (1 day)", [("stagetrack:stage_period_cvr:ratio1d", "{{stage}}")], unit="percentunit",
                  description="Outflow to later success-path stages ÷ inflow, over the same trailing day."),
            panel("Period CVR (7 days)", [("stagetrack:stage_period_cvr:ratio7d", "{{stage}}")], unit="percentunit",
                  description="Outflow to later success-path stages ÷ inflow, over the same trailing week."),
            panel("Balance change (1 day)", [("max by (stage) (delta(stagetrack_stage_leads[1d]))", "{{stage}}")],
                  description="A growing balance with a falling CVR is a bottleneck."),
            panel("Leads overdue on an SLA", [("max by (stage) (stagetrack_stage_overdue_leads)", "{{stage}}")],
                  description="Leads in the stage now whose SLA deadline passed."),
            panel("Time in stage, median (stays ended in 7 days)", [(time_in_stage(0.5), "{{stage}}")], unit="s"),
            panel("Time in stage, p90 (stays ended in 7 days)", [(time_in_stage(0.9), "{{stage}}")], unit="s"),
            *[p for dimension in bounded(model) for p in slice_panels(model, dimension)],
        ],
        bounded(model),
    )  # fmt: skip


def division_page(model: StageModel, division: str) -> dict[str, Any]:
    stages = [name for name, s in model.stages.items() if s.division == division]
    own = f'{{stage=~"{one_of(stages)}"}}'
    converting = [s for s in stages if s in model.success_path[:-1]]
    panels = [
        panel("Balance now", [(leads(own), "{{stage}}")], kind="bargauge", width=8),
        panel("Balance per stage", [(leads(own), "{{stage}}")], width=16),
        panel("Inflow (1 day)", [(f"stagetrack:stage_entries:increase1d{own}", "{{stage}}")], width=8),
        panel("Outflow (1 day)", [(f"stagetrack:stage_exits:increase1d{own}", "{{stage}}")], width=8),
        panel("Time in stage, median (7 days)", [(time_in_stage(0.5, own), "{{stage}}")], unit="s", width=8),
    ]
    if converting:
        conv = f'{{stage=~"{one_of(converting)}"}}'
        panels.append(panel("Period CVR (7 days)", [(f"stagetrack:stage_period_cvr:ratio7d{conv}", "{{stage}}")],
                            unit="percentunit"))  # fmt: skip
    with_sla = [s for s in stages if s in model.slas]
    if with_sla:
        sla = f'{{stage=~"{one_of(with_sla)}"}}'
        panels.append(panel("Leads overdue on an SLA", [(f"max by (stage) (stagetrack_stage_overdue_leads{sla})",
                                                         "{{stage}}")]))  # fmt: skip
    if any(division in weights for weights in model.attribution.values()):
        credited = f'max by (kind) (increase(stagetrack_revenue_attributed_total{{division="{division}"}}[30d]))'
        panels.append(panel("Revenue credited to the division (30 days)", [(credited, "{{kind}}")],
                            description="Its attributed share of the shared revenue, by kind."))  # fmt: skip
    to_here, from_here = f'{{to_division="{division}"}}', f'{{from_division="{division}"}}'
    panels += [
        panel("Feedback received: mean rating (30 days)", [(feedback_mean("from_division", to_here),
              "from {{from_division}}")], width=8),
        panel("Feedback received (30 days)", [(feedback_count("from_division, about", to_here),
              "{{from_division}}: {{about}}")], width=8),
        panel("Feedback given: mean rating (30 days)", [(feedback_mean("to_division", from_here),
              "to {{to_division}}")], width=8),
    ]  # fmt: skip
    title = division.replace("_", " ").title()
    return dashboard(
        f"stagetrack-division-{division}".replace("_", "-"),
        f"stagetrack / {title}",
        f"The {title} division's stages ({', '.join(stages)}), its credit and the feedback it gives and gets.",
        panels,
    )


def revenue(model: StageModel) -> dict[str, Any]:
    shared = "max by (kind) (increase(stagetrack_revenue_total[30d]))"
    attributed = "max by (kind, division) (increase(stagetrack_revenue_attributed_total[30d]))"
    return dashboard(
        "stagetrack-revenue",
        "stagetrack / Revenue",
        "The shared revenue goal, by kind, and the credit each division gets for it (shares sum to the amount).",
        [
            panel("Shared revenue (30 days)", [(f"sum({shared})", "shared")], kind="stat", width=8),
            panel("Shared revenue by kind (30 days)", [(shared, "{{kind}}")], kind="bargauge", width=16),
            panel("Revenue booked per day", [("max by (kind) (increase(stagetrack_revenue_total[1d]))", "{{kind}}")]),
            panel("Bookings per day",
                  [("max by (kind) (increase(stagetrack_revenue_bookings_total[1d]))", "{{kind}}")]),
            panel("Credited by division (30 days)", [(f"sum by (division) ({attributed})", "{{division}}")]),
            panel("Credited by kind and division (30 days)", [(attributed, "{{kind}} → {{division}}")]),
            panel(
                "Shared minus credited (all time; 0 when every share is counted)",
                [("sum(max by (kind) (stagetrack_revenue_total)) - "
                  "sum(max by (kind, division) (stagetrack_revenue_attributed_total))", "difference")],
                width=24, height=5,
            ),
            *[panel(f"Shared revenue by {d} (30 days), {d} in ${d}",
                    [(sliced("stagetrack_revenue_by_slice_total", d, "value", window="30d"), "{{value}}")],
                    width=8, description=f"Every kind, per {d} of the lead that booked it.")
              for d in bounded(model)],
        ],
        bounded(model),
    )  # fmt: skip


def customer_success(model: StageModel) -> dict[str, Any]:
    customers = [name for name, s in model.stages.items() if s.phase == "customer"]
    owner = model.stages[customers[0]].division
    lost = [name for name, s in model.stages.items() if s.is_detour and s.division == owner]
    cust, churn = one_of(customers), one_of(lost)
    churned = (
        "sum(max by (from_stage, to_stage) (increase(stagetrack_stage_transitions_total"
        f'{{from_stage=~"{cust}", to_stage=~"{churn}"}}[30d])))'
    )
    moved_in = (
        "(sum(max by (from_stage, to_stage) (increase(stagetrack_stage_transitions_total"
        f'{{to_stage=~"{cust}", from_stage!~"{cust}"}}[30d]))) or vector(0))'
    )
    moved_out = (
        "(sum(max by (from_stage, to_stage) (increase(stagetrack_stage_transitions_total"
        f'{{from_stage=~"{cust}", to_stage!~"{cust}"}}[30d]))) or vector(0))'
    )
    in_customer_stages = f'{{stage=~"{cust}"}}'
    customers_now = f"sum({leads(in_customer_stages)})"
    at_start = f"({customers_now} - {moved_in} + {moved_out})"
    panels = [
        panel("Customers now", [(customers_now, "customers")], kind="stat", width=6),
        panel("Customers by stage", [(leads(f'{{stage=~"{cust}|{churn}"}}'), "{{stage}}")], width=18),
        panel("Churned (30 days)", [(churned, "churned")], kind="stat", width=6),
        panel("Churn rate (30 days)", [(f"{churned} / {at_start}", "churn rate")], unit="percentunit", width=6,
              description="Customers churned in the window ÷ customers at its start (now, less the window's flow). "
                          "Exact figures: GET /v1/kpi/customer-success."),
    ]  # fmt: skip
    renewal = model.revenue_kinds.get("renewal_won")
    if renewal is not None:
        renewals = f'sum(max by (kind) (increase(stagetrack_revenue_bookings_total{{kind="{renewal}"}}[30d])))'
        panels.append(panel("Renewal rate (30 days)", [(f"{renewals} / ({renewals} + {churned})", "renewal rate")],
                            unit="percentunit", width=6,
                            description="Renewals won ÷ (renewals won + churned) in the window."))  # fmt: skip
    new = model.revenue_kinds.get("opportunity_won")
    after_sale = [k for k in dict.fromkeys(model.revenue_kinds.values()) if k != new]
    if after_sale:
        kinds = f'{{kind=~"{one_of(after_sale)}"}}'
        panels.append(panel("Revenue after the sale (30 days)",
                            [(f"max by (kind) (increase(stagetrack_revenue_total{kinds}[30d]))", "{{kind}}")],
                            width=6))  # fmt: skip
    with_sla = [s for s in customers if s in model.slas]
    if with_sla:
        sla = f'{{stage=~"{one_of(with_sla)}"}}'
        panels.append(panel("Overdue on an SLA", [(f"max by (stage) (stagetrack_stage_overdue_leads{sla})",
                                                   "{{stage}}")]))  # fmt: skip
    panels += [
        panel("Time in stage, median (7 days)", [(time_in_stage(0.5, in_customer_stages), "{{stage}}")], unit="s"),
        note("NRR and GRR", "Net and gross revenue retention need revenue per account over periods: "
             "`GET /v1/kpi/customer-success?from=&to=` gives them exactly."),
    ]  # fmt: skip
    customer_stages = f'stage=~"{cust}"'
    panels += [
        panel(f"Customers by {d}, {d} in ${d}",
              [(sliced("stagetrack_stage_leads_by_slice", d, "value", customer_stages), "{{value}}")], width=8)
        for d in bounded(model)
    ]  # fmt: skip
    return dashboard(
        "stagetrack-customer-success",
        "stagetrack / Customer Success",
        "Post-purchase stages, churn, renewal rate and revenue after the sale.",
        panels,
        bounded(model),
    )


def feedback(model: StageModel) -> dict[str, Any]:
    pair = "from_division, to_division"
    return dashboard(
        "stagetrack-feedback",
        "stagetrack / Feedback",
        "Feedback between divisions (field sales → inside sales on meetings, inside sales → marketing on leads).",
        [
            panel("Feedback (30 days)", [(feedback_count(pair), "{{from_division}} → {{to_division}}")]),
            panel("Mean rating (30 days)", [(feedback_mean(pair), "{{from_division}} → {{to_division}}")]),
            panel("Met expectations (30 days)", [(met_share(pair), "{{from_division}} → {{to_division}}")],
                  unit="percentunit", description="Of the feedback that answered met_expectations."),
            panel("Feedback by subject (30 days)", [(feedback_count("about"), "{{about}}")]),
            panel("Mean rating by subject (30 days)", [(feedback_mean("about"), "{{about}}")], width=24),
            note("Per campaign", "Feedback per campaign (and by any dimension of the model: `by=`) is in "
                 "`GET /v1/kpi/feedback?from=&to=`."),
        ],
    )  # fmt: skip


def operations(model: StageModel) -> dict[str, Any]:
    job = '{job=~"stagetrack-.*"}'
    return dashboard(
        "stagetrack-operations",
        "stagetrack / Operations",
        "The four services: requests, events in and through the engine, lag, dead letters, projections, webhooks.",
        [
            panel("Services up", [(f"up{job}", "{{service}} {{instance}}")], kind="stat", width=24, height=4),
            panel("HTTP requests per second",
                  [("sum by (service, status) (rate(stagetrack_http_requests_total[5m]))", "{{service}} {{status}}")]),
            panel("HTTP latency p99",
                  [("histogram_quantile(0.99, sum by (service, le) "
                    "(rate(stagetrack_http_request_duration_seconds_bucket[5m])))", "{{service}}")], unit="s"),
            panel("Ingest: events per second by outcome",
                  [("sum by (outcome) (rate(stagetrack_ingest_events_total[5m]))", "{{outcome}}")], unit="ops"),
            panel("Ingest: accepted events per second by type",
                  [('sum by (type) (rate(stagetrack_ingest_events_total{outcome="accepted"}[5m]))', "{{type}}")],
                  unit="ops"),
            panel("Ingest: Kafka acknowledgement p99",
                  [("histogram_quantile(0.99, sum by (le) (rate(stagetrack_ingest_kafka_send_seconds_bucket[5m])))",
                    "p99")], unit="s"),
            panel("Engine: events per second by outcome",
                  [("sum by (outcome) (rate(stagetrack_engine_events_total[5m]))", "{{outcome}}")], unit="ops"),
            panel("Engine: consumer lag", [("sum(stagetrack_engine_consumer_lag)", "records behind")]),
            panel("Engine: dead-lettered events (1 hour)",
                  [('sum(increase(stagetrack_engine_events_total{outcome="dead_lettered"}[1h]))', "dead letters")]),
            panel("Engine: batch duration p99",
                  [("histogram_quantile(0.99, sum by (le) (rate(stagetrack_engine_batch_seconds_bucket[5m])))",
                    "p99")], unit="s"),
            panel("Engine: since the last committed batch",
                  [("time() - max(stagetrack_engine_last_processed_timestamp_seconds)", "age")], unit="s"),
            panel("Store positions: published and projected",
                  [("max(stagetrack_engine_published_position)", "published to lead-events"),
                   ("max(stagetrack_kpi_projected_position)", "in the KPI projections")]),
            panel("KPI: projection lag", [("max(stagetrack_kpi_projection_lag_events)", "events behind")]),
            panel("KPI: since the projections last advanced",
                  [("time() - max(stagetrack_kpi_last_projected_timestamp_seconds)", "age")], unit="s"),
            panel("KPI: projection failures (1 hour)",
                  [("sum(increase(stagetrack_kpi_projection_failures_total[1h]))", "failed batches")]),
            panel("KPI: metrics read from the projections",
                  [("max(stagetrack_kpi_metrics_refresh_duration_seconds)", "refresh duration"),
                   ("time() - max(stagetrack_kpi_metrics_refreshed_timestamp_seconds)", "snapshot age")], unit="s"),
            panel("KPI: rows outside the stage model",
                  [("max by (table) (stagetrack_kpi_metrics_skipped_rows)", "{{table}}")]),
            panel("Resident memory", [(f"process_resident_memory_bytes{job}", "{{service}} {{instance}}")],
                  unit="bytes"),
            *dispatcher_row(),
        ],
    )  # fmt: skip


def dispatcher_row() -> list[dict[str, Any]]:
    """The webhooks: what reached each endpoint and how fast, what waits, which endpoints are paused. Counters and
    the latency are each dispatcher's own (summed); the backlog is read from PostgreSQL by every replica (max)."""
    return [
        row("Dispatcher (webhooks)"),
        panel("Dispatcher: deliveries per second by endpoint and outcome",
              [("sum by (endpoint, outcome) (rate(stagetrack_dispatch_deliveries_total[5m]))",
                "{{endpoint}} {{outcome}}")], unit="ops",
              description="delivered, or dead-lettered (`stagetrack dispatch failed` lists them)"),
        panel("Dispatcher: delivery latency p99 (moment recorded -> receiver's 2xx)",
              [("histogram_quantile(0.99, sum by (endpoint, le) "
                "(rate(stagetrack_dispatch_delivery_latency_seconds_bucket[5m])))", "{{endpoint}}")], unit="s"),
        panel("Dispatcher: attempts per second by endpoint and result",
              [("sum by (endpoint, result) (rate(stagetrack_dispatch_attempts_total[5m]))",
                "{{endpoint}} {{result}}")], unit="ops"),
        panel("Dispatcher: pending deliveries",
              [("max by (endpoint) (stagetrack_dispatch_pending_deliveries)", "{{endpoint}}")], width=6),
        panel("Dispatcher: oldest pending age",
              [("max by (endpoint) (stagetrack_dispatch_oldest_pending_age_seconds)", "{{endpoint}}")], unit="s",
              width=6, description="StagetrackDispatchDeliveriesLate pages past 15 minutes"),
        panel("Dispatcher: paused endpoints",
              [("max by (endpoint) (stagetrack_dispatch_endpoint_paused)", "{{endpoint}}")], kind="stat", width=12,
              description="1: failing for long, probed once per pause (docs/dispatch.md, Pausing)"),
    ]  # fmt: skip


def dashboards(model: StageModel) -> dict[str, dict[str, Any]]:
    """File name -> dashboard."""
    found = {"funnel.json": funnel(model)}
    for division in model.divisions:
        found[f"division-{division.replace('_', '-')}.json"] = division_page(model, division)
    found["revenue.json"] = revenue(model)
    found["customer-success.json"] = customer_success(model)
    found["feedback.json"] = feedback(model)
    found["operations.json"] = operations(model)
    return found


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a stage model YAML file (default: the shipped the-model)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    args = parser.parse_args(argv)
    model = load_model_file(args.model) if args.model else default_model()
    wanted = {name: render(board) for name, board in dashboards(model).items()}
    present = {p.name for p in args.out.glob("*.json")} if args.out.is_dir() else set()
    if args.check:
        stale = sorted(n for n, text in wanted.items() if not (args.out / n).is_file()
                       or (args.out / n).read_text(encoding="utf-8") != text)  # fmt: skip
        extra = sorted(present - wanted.keys())
        for name in stale + extra:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        return 1 if stale or extra else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in present - wanted.keys():
        (args.out / name).unlink()
    for name, text in wanted.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} dashboards to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
