"""Cross-reference checks the JSON Schema cannot express; run on schema-valid model data.

Each failure is a `ModelIssue` at the data path of the offending value, so the loader can name the line.
"""

from __future__ import annotations

from typing import Any

from services.common.envelope import EVENT_TYPES
from services.common.stage_model.model_types import ModelIssue

_KNOWN_EVENTS = frozenset(EVENT_TYPES)


def check_references(data: dict[str, Any]) -> None:
    divisions = data["divisions"]
    stages = _check_stages(data, divisions)
    path_stages = _check_success_path(data, stages)
    initial = data["initial"]["stage"]
    if initial not in path_stages:
        raise ModelIssue(("initial", "stage"), f"initial stage {initial!r} must be on the success path")
    seen_ids: dict[str, str] = {data["initial"]["id"]: "initial"}
    for i, rule in enumerate(data["transitions"]):
        at = ("transitions", i)
        _unique_id(seen_ids, rule["id"], at)
        _events(rule["on"], (*at, "on"))
        froms = [] if rule["from"] == "*" else _as_list(rule["from"])
        from_at = [(*at, "from", j) if isinstance(rule["from"], list) else (*at, "from") for j in range(len(froms))]
        for j, name in enumerate(froms):
            _stage(stages, name, from_at[j])
        _stage(stages, rule["to"], (*at, "to"))
        to_index = path_stages.get(rule["to"])
        for j, name in enumerate(froms):
            from_index = path_stages.get(name)
            if name == rule["to"] or (from_index is not None and to_index is not None and to_index <= from_index):
                raise ModelIssue(
                    from_at[j],
                    f"transition {rule['id']!r} would move a lead backwards on the success path "
                    f"from {name!r} to {rule['to']!r} (only a detour may lead back)",
                )
    for i, rule in enumerate(data.get("scoring", [])):
        _unique_id(seen_ids, rule["id"], ("scoring", i))
        _events(rule["on"], ("scoring", i, "on"))
    sla_stages: set[str] = set()
    for i, sla in enumerate(data.get("slas", [])):
        _unique_id(seen_ids, sla["id"], ("slas", i))
        _stage(stages, sla["stage"], ("slas", i, "stage"))
        if sla["stage"] in sla_stages:
            raise ModelIssue(("slas", i, "stage"), f"stage {sla['stage']!r} already has an SLA")
        sla_stages.add(sla["stage"])
        _events(sla.get("satisfied_by", []), ("slas", i, "satisfied_by"))
    _check_revenue(data, divisions)


def _check_stages(data: dict[str, Any], divisions: list[str]) -> dict[str, dict[str, Any]]:
    stages: dict[str, dict[str, Any]] = {}
    for i, stage in enumerate(data["stages"]):
        if stage["name"] in stages:
            raise ModelIssue(("stages", i, "name"), f"stage {stage['name']!r} is defined twice")
        if stage["division"] not in divisions:
            raise ModelIssue(
                ("stages", i, "division"),
                f"unknown division {stage['division']!r} (divisions: {', '.join(divisions)})",
            )
        stages[stage["name"]] = stage
    for i, stage in enumerate(data["stages"]):
        rank_as = stage.get("merge_rank_as")
        if rank_as is not None and stage["phase"] != "detour":
            raise ModelIssue(("stages", i, "merge_rank_as"), "merge_rank_as is for detour stages only")
        if rank_as is not None and (rank_as not in stages or stages[rank_as]["phase"] == "detour"):
            raise ModelIssue(("stages", i, "merge_rank_as"), f"{rank_as!r} is not a success-path stage")
    return stages


def _check_success_path(data: dict[str, Any], stages: dict[str, dict[str, Any]]) -> dict[str, int]:
    path = data["success_path"]
    for j, name in enumerate(path):
        _stage(stages, name, ("success_path", j))
        if stages[name]["phase"] == "detour":
            raise ModelIssue(("success_path", j), f"{name!r} is a detour and cannot be on the success path")
    for i, stage in enumerate(data["stages"]):
        if stage["phase"] != "detour" and stage["name"] not in path:
            raise ModelIssue(
                ("stages", i, "name"), f"stage {stage['name']!r} is neither on the success path nor a detour"
            )
    return {name: j for j, name in enumerate(path)}


def _check_revenue(data: dict[str, Any], divisions: list[str]) -> None:
    weights = data.get("attribution", {})
    for event_type, kind in data.get("revenue", {}).items():
        _events(event_type, ("revenue", event_type))
        if kind not in weights:
            raise ModelIssue(("revenue", event_type), f"revenue kind {kind!r} has no attribution weights")
    for kind, by_division in weights.items():
        for division in by_division:
            if division not in divisions:
                raise ModelIssue(("attribution", kind, division), f"unknown division {division!r}")
        if sum(by_division.values()) <= 0:
            raise ModelIssue(("attribution", kind), f"the weights of {kind!r} sum to zero")


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _unique_id(seen: dict[str, str], rule_id: str, at: tuple[str | int, ...]) -> None:
    if rule_id in seen:
        raise ModelIssue((*at, "id"), f"rule id {rule_id!r} is already used in {seen[rule_id]}")
    seen[rule_id] = str(at[0])


def _events(spec: str | list[str], at: tuple[str | int, ...]) -> None:
    for j, name in enumerate([spec] if isinstance(spec, str) else spec):
        if name != "*" and name not in _KNOWN_EVENTS:
            path = at if isinstance(spec, str) else (*at, j)
            raise ModelIssue(path, f"unknown event type {name!r}")


def _stage(stages: dict[str, dict[str, Any]], name: str, at: tuple[str | int, ...]) -> None:
    if name not in stages:
        raise ModelIssue(at, f"unknown stage {name!r} (stages: {', '.join(stages)})")
