"""Structured `where:` matching on event properties: the fast path that needs no CEL.

`where: {intent: high}` (equality), `{intent: [high, urgent]}` (any of), `{path: {prefix: /docs}}`
(string prefix) and `{path: {under: /pricing}}` (the path itself or anything below it: `/pricing`,
`/pricing/`, `/pricing/team`, not `/pricing-old`). Every entry must hold; a missing property never matches.
Booleans only equal booleans (YAML `true` does not match a property `1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["eq", "in", "prefix", "under"]
_MISSING = object()


@dataclass(frozen=True, slots=True)
class PropertyTest:
    key: str
    kind: Kind
    value: Any

    def holds(self, properties: Mapping[str, Any]) -> bool:
        actual = properties.get(self.key, _MISSING)
        if actual is _MISSING or actual is None:
            return False
        if self.kind == "eq":
            return _same(actual, self.value)
        if self.kind == "in":
            return any(_same(actual, option) for option in self.value)
        if not isinstance(actual, str):
            return False
        if self.kind == "prefix":
            return actual.startswith(self.value)
        base: str = self.value.rstrip("/")
        return actual == base or actual.startswith(base + "/")


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def compile_where(where: Mapping[str, Any] | None) -> tuple[PropertyTest, ...]:
    """`where:` as validated by the schema -> tests, in key order."""
    tests: list[PropertyTest] = []
    for key, spec in (where or {}).items():
        if isinstance(spec, list):
            tests.append(PropertyTest(key, "in", tuple(spec)))
        elif isinstance(spec, dict):
            ((op, operand),) = spec.items()
            tests.append(PropertyTest(key, "prefix" if op == "prefix" else "under", operand))
        else:
            tests.append(PropertyTest(key, "eq", spec))
    return tuple(tests)


def all_hold(tests: tuple[PropertyTest, ...], properties: Mapping[str, Any]) -> bool:
    return all(test.holds(properties) for test in tests)
