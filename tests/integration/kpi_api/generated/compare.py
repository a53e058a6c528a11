"""Exact comparison of an expected answer with the API's, listing every difference by its JSON path."""

from __future__ import annotations

from typing import Any

MISSING = object()


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every key of `expected` must be in `actual` with an equal value (ints, floats, strings compared exactly;
    keys the test does not compute are not looked at); lists must match element by element."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            found += differences(value, actual.get(key, MISSING), f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        found = [f"{path}: expected {len(expected)} items, got {len(actual)}"] if len(expected) != len(actual) else []
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            found += differences(e, a, f"{path}[{i}]")
        return found
    if actual is MISSING:
        return [f"{path}: missing (expected {expected!r})"]
    if type(expected) is not type(actual) and not (
        isinstance(expected, int | float) and isinstance(actual, int | float)
    ):
        return [f"{path}: expected {expected!r} ({type(expected).__name__}), got {actual!r} ({type(actual).__name__})"]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def report(what: str, found: list[str], limit: int = 40) -> str:
    more = f"\n... and {len(found) - limit} more" if len(found) > limit else ""
    return f"{what}: {len(found)} differences\n" + "\n".join(found[:limit]) + more
