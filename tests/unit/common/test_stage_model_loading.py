"""Loading stage models: the shipped one, its version, and refusals that name the YAML line."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.stage_model.model import (
    DEFAULT_MODEL_PATH,
    ModelError,
    default_model,
    load_model,
    load_model_file,
)

THE_MODEL = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")


def refusal(text: str) -> ModelError:
    with pytest.raises(ModelError) as caught:
        load_model(text, source="custom.yaml")
    return caught.value


def test_the_shipped_model_matches_the_product_table() -> None:
    model = default_model()
    assert model.name == "the-model"
    assert model.success_path == ("visitor", "lead", "mql", "sal", "sql", "opportunity", "onboarding", "active")
    assert {name: (s.division, s.phase) for name, s in model.stages.items()} == {
        "visitor": ("marketing", "early"),
        "lead": ("marketing", "mid"),
        "mql": ("marketing", "mid"),
        "sal": ("inside_sales", "late"),
        "sql": ("inside_sales", "late"),
        "opportunity": ("field_sales", "late"),
        "onboarding": ("customer_success", "customer"),
        "active": ("customer_success", "customer"),
        "nurture": ("marketing", "detour"),
        "churned": ("customer_success", "detour"),
    }
    assert model.attribution == {
        "new": {"marketing": 30, "inside_sales": 30, "field_sales": 40},
        "renewal": {"customer_success": 100},
        "upsell": {"customer_success": 50, "field_sales": 50},
        "cross_sell": {"customer_success": 50, "field_sales": 50},
    }
    assert not any(rule.when for rule in model.transitions) and not any(
        rule.when for rule in model.scoring
    )  # the hot path needs no CEL


def test_the_on_key_is_a_string_not_yaml_1_1_true() -> None:
    assert all(rule.on is None or isinstance(next(iter(rule.on)), str) for rule in default_model().transitions)


def test_version_is_a_content_hash_that_ignores_layout() -> None:
    reformatted = "# a comment\n" + THE_MODEL.replace("divisions: [marketing", "divisions:  [marketing")
    assert load_model(reformatted).version == default_model().version
    changed = THE_MODEL.replace("points: 10}", "points: 12}")
    assert load_model(changed).version != default_model().version
    assert len(default_model().version) == 64


def test_currency_is_not_part_of_the_version() -> None:
    assert load_model(THE_MODEL, currency="USD").version == default_model().version


def test_bad_yaml_names_the_line() -> None:
    text = THE_MODEL.replace("  - {name: sal, division: inside_sales, phase: late}", "  - {name: sal, division: [oops")
    error = refusal(text)
    assert error.line is not None and abs(error.line - line_of(text, "{name: sal, division: [oops")) <= 1
    assert "not valid YAML" in str(error) and str(error).startswith("custom.yaml line")


def test_unknown_stage_in_a_transition_names_the_line() -> None:
    text = THE_MODEL.replace("    to: sql\n", "    to: sqll\n")
    error = refusal(text)
    assert error.line == line_of(text, "to: sqll")
    assert "unknown stage 'sqll'" in error.reason


def test_unknown_stage_in_a_from_list_names_the_line() -> None:
    text = THE_MODEL.replace("from: [onboarding]", "from: [onboarding, boarding]")
    error = refusal(text)
    assert error.line == line_of(text, "from: [onboarding, boarding]") and "'boarding'" in error.reason


def test_cel_syntax_error_names_the_line() -> None:
    text = THE_MODEL.replace("    score_at_least: 30\n", "    when: lead.score >= \n")
    error = refusal(text)
    assert error.line == line_of(text, "when: lead.score >=")
    assert "CEL syntax error" in error.reason and "transitions[2].when" in error.reason


def test_cel_syntax_error_in_a_block_scalar_names_the_line_inside_it() -> None:
    block = "    when: |\n      lead.score >= 30 &&\n      event.type = 'x'\n"
    text = THE_MODEL.replace("    score_at_least: 30\n", block)
    error = refusal(text)
    assert error.line == line_of(text, "event.type = 'x'")


@pytest.mark.parametrize(
    "old,new,fragment,reason",
    [
        ("on: lead_accepted\n", "on: lead_acepted\n", "on: lead_acepted", "unknown event type 'lead_acepted'"),
        ("within: 24h}", "within: 24 hours}", "within: 24 hours", "not a duration"),
        ("    to: mql\n", "    to: mql\n    unless: x\n", "unless: x", "unknown key 'unless'"),
        ("from: [onboarding]\n", "from: [active]\n", "from: [active]", "backwards"),
        ("from: [onboarding]\n", "from: boarding\n", "from: boarding", "unknown stage 'boarding'"),
        ("from: [onboarding]\n", "from: active\n", "from: active", "backwards"),
        ("merge_rank_as: mql}", "merge_rank_as: nurture}", "merge_rank_as: nurture", "not a success-path stage"),
        (
            "division: inside_sales, phase: late}",
            "division: sales, phase: late}",
            "division: sales",
            "unknown division",
        ),
        (
            "    to: churned\n",
            "    to: churned\n  - {id: page_viewed, on: churned, from: '*', to: churned}\n",
            "{id: page_viewed, on: page_viewed",
            "already used in transitions",
        ),
        ("new: {marketing: 30,", "new: {marketing: -30,", "new: {marketing: -30", "minimum"),
        ("  upsell_won: upsell\n", "  upsell_won: upsell\n  renewal_wonn: renewal\n", "renewal_wonn", "unknown event"),
    ],
)
def test_reference_and_schema_errors_name_the_line(old: str, new: str, fragment: str, reason: str) -> None:
    assert old in THE_MODEL
    text = THE_MODEL.replace(old, new, 1)
    error = refusal(text)
    assert reason in error.reason
    assert error.line == line_of(text, fragment), str(error)


def test_from_may_name_a_single_stage() -> None:
    model = load_model(THE_MODEL.replace("from: [onboarding]\n", "from: onboarding\n"))
    assert [rule.id for rule in model.transitions_for("onboarding", "onboarding_completed")] == ["onboarding_completed"]


def test_duplicate_keys_are_refused() -> None:
    text = THE_MODEL.replace("name: the-model\n", "name: the-model\nname: other\n")
    assert refusal(text).line == line_of(text, "name: other")


def test_a_missing_required_section_is_refused() -> None:
    text = THE_MODEL.replace("success_path:", "success_road:")
    error = refusal(text)
    assert "success_path" in error.reason


def test_a_stage_neither_on_the_path_nor_a_detour_is_refused() -> None:
    text = THE_MODEL.replace(", sal, sql,", ", sql,", 1)
    error = refusal(text)
    assert "'sal'" in error.reason and error.line == line_of(text, "{name: sal,")


def test_not_a_mapping() -> None:
    assert "mapping" in refusal("- just a list\n").reason


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model_file(tmp_path / "missing.yaml")
