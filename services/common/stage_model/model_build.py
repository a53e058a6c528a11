"""Builds a `StageModel` from YAML text: parse, schema, cross-references, CEL compile, lookups, version."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import yaml

from services.common.envelope import EVENT_TYPES
from services.common.stage_model.conditions import CelSyntaxError, Condition, compile_condition
from services.common.stage_model.model_checks import check_references
from services.common.stage_model.model_dimensions import check_dimensions, compile_dimensions, dimensions_by_event
from services.common.stage_model.model_schema import format_path, validate_against_schema
from services.common.stage_model.model_types import (
    ModelError,
    ModelIssue,
    ScoringRule,
    Sla,
    Stage,
    StageModel,
    Transition,
)
from services.common.stage_model.property_match import compile_where
from services.common.stage_model.yaml_source import YamlDocument, YamlSourceError, parse_yaml

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def build_model(text: str, *, source: str, currency: str) -> StageModel:
    try:
        doc = parse_yaml(text)
    except YamlSourceError as exc:
        raise ModelError(source, exc.line, exc.reason) from exc
    data = doc.data
    try:
        if not isinstance(data, dict):
            raise ModelIssue((), "the model must be a YAML mapping (name, divisions, stages, ...)")
        validate_against_schema(data)
        check_references(data)
        check_dimensions(data)
        return _compile(data, doc, currency)
    except ModelIssue as exc:
        raise ModelError(source, doc.line_of(exc.path), exc.reason) from exc
    except CelSyntaxError as exc:  # raised by _condition with the YAML line already worked out
        raise ModelError(source, exc.line, exc.reason) from exc


def _compile(data: dict[str, Any], doc: YamlDocument, currency: str) -> StageModel:
    path_index = {name: i for i, name in enumerate(data["success_path"])}
    stages: dict[str, Stage] = {}
    for spec in data["stages"]:
        index = path_index.get(spec["name"])
        rank = index if index is not None else path_index[spec.get("merge_rank_as", data["success_path"][0])]
        stages[spec["name"]] = Stage(spec["name"], spec["division"], spec["phase"], index, rank)
    transitions = tuple(
        Transition(
            id=rule["id"],
            on=_names(rule["on"]),
            from_stages=_names(rule["from"]),
            to=rule["to"],
            where=compile_where(rule.get("where")),
            score_at_least=rule.get("score_at_least"),
            score_gain_at_least=rule.get("score_gain_at_least"),
            when=_condition(doc, ("transitions", i, "when"), rule.get("when")),
        )
        for i, rule in enumerate(data["transitions"])
    )
    scoring = tuple(
        ScoringRule(
            id=rule["id"],
            on=_names(rule["on"]),
            points=rule["points"],
            where=compile_where(rule.get("where")),
            when=_condition(doc, ("scoring", i, "when"), rule.get("when")),
        )
        for i, rule in enumerate(data.get("scoring", []))
    )
    slas = {
        sla["stage"]: Sla(sla["id"], sla["stage"], _duration(sla["within"]), frozenset(sla.get("satisfied_by", [])))
        for sla in data.get("slas", [])
    }
    dimensions = compile_dimensions(data)
    return StageModel(
        name=data["name"],
        version=model_version(data),
        divisions=tuple(data["divisions"]),
        stages=stages,
        success_path=tuple(data["success_path"]),
        initial_stage=data["initial"]["stage"],
        initial_rule=data["initial"]["id"],
        transitions=transitions,
        scoring=scoring,
        slas=slas,
        revenue_kinds=dict(data.get("revenue", {})),
        attribution={kind: dict(weights) for kind, weights in data.get("attribution", {}).items()},
        currency=currency,
        dimensions=dimensions,
        personal=tuple(data.get("personal", ())),
        _transitions={
            (stage, event_type): _candidates(transitions, stages, stage, event_type)
            for stage in stages
            for event_type in EVENT_TYPES
        },
        _any_event_transitions={stage: _candidates(transitions, stages, stage, None) for stage in stages},
        _scoring={et: tuple(r for r in scoring if r.on is None or et in r.on) for et in EVENT_TYPES},
        _any_event_scoring=tuple(r for r in scoring if r.on is None),
        dimensions_by_event=dimensions_by_event(dimensions),
    )


def model_version(data: Any) -> str:
    """sha256 of the canonical form: the parsed model as sorted, compact JSON."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _candidates(
    transitions: tuple[Transition, ...], stages: dict[str, Stage], stage: str, event_type: str | None
) -> tuple[Transition, ...]:
    """Rules that may fire from `stage` on `event_type` (None: an event no rule names), backward ones out."""
    here = stages[stage].path_index
    found = []
    for rule in transitions:
        if rule.on is not None and (event_type is None or event_type not in rule.on):
            continue
        if rule.from_stages is not None and stage not in rule.from_stages:
            continue
        there = stages[rule.to].path_index
        if rule.to == stage or (here is not None and there is not None and there <= here):
            continue  # never backwards on the success path; from "*" such pairs are simply left out
        found.append(rule)
    return tuple(found)


def _names(spec: str | list[str]) -> frozenset[str] | None:
    """`on:` and `from:` alike: "*" (None: any), one name, or a list."""
    if spec == "*":
        return None
    return frozenset([spec] if isinstance(spec, str) else spec)


def _duration(text: str) -> timedelta:
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])


def _condition(doc: YamlDocument, path: tuple[str | int, ...], source: str | None) -> Condition | None:
    if source is None:
        return None
    try:
        return compile_condition(source)
    except CelSyntaxError as exc:
        node = doc.node_at(path)
        line = None
        if node is not None:
            block = isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")
            line = node.start_mark.line + 1 + (1 if block else 0) + exc.line - 1
        reason = f"{format_path(path)}: {exc.reason}"
        raise CelSyntaxError(line or 0, exc.column, reason) from exc
