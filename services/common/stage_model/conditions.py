"""CEL `when:` conditions: compiled once at model load, evaluated by celpy's tree-walking interpreter.

Safety: an expression is parsed by the CEL grammar and interpreted over the CEL AST; nothing is passed
to Python's `eval`/`exec` (celpy's `CompiledRunner`, which transpiles to Python and `exec`s it, is
deliberately not used).

Speed: celpy interprets in pure Python, several thousand evaluations per second (docs/stage-model.md
has the measurement), so the engine evaluates a `when:` only after the cheap structured checks of the
same rule (`on`, `from`, `where`, score thresholds) matched. The shipped model uses no CEL at all.

An evaluation that fails (a missing property, a type mismatch, division by zero) or yields anything but a
boolean counts as "does not hold": events vary, and a condition over a property an event lacks is false.
Write `has(event.properties.x) && ...` to make that explicit.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from services.common.envelope import Event


class CelSyntaxError(ValueError):
    def __init__(self, line: int, column: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line  # 1-based line within the expression
        self.column = column
        self.reason = reason


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment()


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    source: str
    program: Any  # celpy.Runner

    def holds(self, activation: Mapping[str, Any]) -> bool:
        try:
            result = self.program.evaluate(activation)
        except (CELEvalError, TypeError, ValueError, ArithmeticError, KeyError, LookupError):
            return False
        return isinstance(result, celtypes.BoolType) and bool(result)


def compile_condition(source: str) -> Condition:
    """Parse and prepare `source`; a syntax error raises `CelSyntaxError` with the line inside `source`."""
    env = _environment()
    try:
        ast = env.compile(source)
    except CELParseError as exc:
        raise CelSyntaxError(exc.line or 1, exc.column, f"CEL syntax error: {_describe(exc)}") from exc
    return Condition(source=source, program=env.program(ast))


def _describe(exc: CELParseError) -> str:
    cause = exc.__context__
    where = f" at column {exc.column}" if exc.column else ""
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        token = "end of expression" if cause.token.type == "$END" else repr(str(cause.token))
        return f"unexpected {token}{where}"
    if isinstance(cause, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {cause.char!r}{where}"
    return f"cannot parse{where}"


def event_activation(event: Event) -> Any:
    """`event` as CEL sees it: type, event_id, occurred_at (timestamp), ids, source and properties."""
    return json_to_cel(
        {
            "type": event.type,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at,
            "anonymous_id": event.anonymous_id,
            "lead_id": event.lead_id,
            "account_id": event.account_id,
            "source": event.source,
            "properties": dict(event.properties),
        }
    )


def lead_activation(fields: Mapping[str, Any]) -> Any:
    """`lead` as CEL sees it (built by decide: stage, division, score, score_since_stage_entry, ...)."""
    return json_to_cel(dict(fields))
