"""The model's conditions: CEL expressions and `where` property tests, compiled once and evaluated safely."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.stage_model.conditions import CelSyntaxError, compile_condition, lead_activation
from services.common.stage_model.property_match import all_hold, compile_where


def test_a_condition_sees_the_event_and_the_lead() -> None:
    condition = compile_condition("event.properties.intent == 'high' && lead.score >= 30")
    lead = lead_activation({"score": 30})
    assert condition.holds({"event": lead_activation({"properties": {"intent": "high"}}), "lead": lead}) is True
    assert condition.holds({"event": lead_activation({"properties": {"intent": "low"}}), "lead": lead}) is False


def test_an_evaluation_error_does_not_hold() -> None:
    condition = compile_condition("event.properties.missing > 3")
    assert condition.holds({"event": lead_activation({"properties": {}}), "lead": lead_activation({})}) is False


def test_cel_syntax_errors_carry_line_and_column() -> None:
    with pytest.raises(CelSyntaxError) as caught:
        compile_condition("lead.score >= 30 &&\n  event.type = 'x'")
    assert caught.value.line == 2 and "unexpected" in caught.value.reason


def test_a_non_boolean_result_does_not_hold() -> None:
    condition = compile_condition("lead.score + 1")
    assert condition.holds({"lead": {"score": 1}}) is False


@pytest.mark.parametrize(
    "where,properties,expected",
    [
        ({"intent": "high"}, {"intent": "high"}, True),
        ({"intent": "high"}, {"intent": "normal"}, False),
        ({"intent": "high"}, {}, False),
        ({"intent": ["high", "urgent"]}, {"intent": "urgent"}, True),
        ({"flag": True}, {"flag": 1}, False),
        ({"count": 1}, {"count": True}, False),
        ({"count": 1}, {"count": 1}, True),
        ({"path": {"prefix": "/doc"}}, {"path": "/docs/x"}, True),
        ({"path": {"under": "/pricing/"}}, {"path": "/pricing"}, True),
        ({"path": {"under": "/pricing"}}, {"path": 5}, False),
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, False),
    ],
)
def test_where_matching(where: dict[str, Any], properties: dict[str, Any], expected: bool) -> None:
    assert all_hold(compile_where(where), properties) is expected
