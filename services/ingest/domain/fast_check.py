"""A compiled yes/no check for the subset of JSON Schema the event schemas use (the hot path).

jsonschema's validators walk the schema on every call (~100 µs an event for ours); almost every event is
valid, so `compile_check` turns a schema into nested closures that only answer "valid?", and jsonschema runs
only for the rare invalid item, to explain it. The schema files stay the single source of truth: a schema
using a keyword this module does not know compiles to None and jsonschema does all the work. A property
test holds `compile_check(s)(x) == Draft202012Validator(s).is_valid(x)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
FormatCheck = Callable[[object], bool]

_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default"})
_STRING_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern", "format"})


class _Unsupported(Exception):
    pass


def compile_check(schema: object, formats: Mapping[str, FormatCheck]) -> Check | None:
    """A function telling whether an instance is valid, or None when the schema uses unsupported keywords."""
    try:
        return _compile(schema, formats)
    except _Unsupported:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _compile(schema: object, formats: Mapping[str, FormatCheck]) -> Check:
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, dict):
        raise _Unsupported
    if schema.get("type") == "string" and _STRING_KEYWORDS.issuperset(k for k in schema if not _annotation(k)):
        return _string(schema, formats)
    checks = [c for k, val in schema.items() if (c := _keyword(k, val, schema, formats)) is not None]
    if not checks:
        return lambda v: True
    return checks[0] if len(checks) == 1 else _every(tuple(checks))


def _every(checks: tuple[Check, ...]) -> Check:
    def check(v: Any) -> bool:
        for one in checks:  # a plain loop: twice as fast as all() over a generator
            if not one(v):
                return False
        return True

    return check


def _keyword(key: str, val: Any, schema: dict[str, Any], formats: Mapping[str, FormatCheck]) -> Check | None:
    if _annotation(key):
        return None
    if key == "type":
        names = [val] if isinstance(val, str) else list(val)
        if not set(names) <= _TYPES.keys():
            raise _Unsupported
        tests = [_TYPES[t] for t in names]
        return tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests)
    if key == "enum":
        if not all(isinstance(e, str) for e in val):
            raise _Unsupported
        allowed = frozenset(val)
        return lambda v: isinstance(v, str) and v in allowed
    if key == "required":
        required = tuple(val)
        return lambda v: not isinstance(v, dict) or all(n in v for n in required)
    if key == "properties":
        return _properties(tuple((name, _compile(sub, formats)) for name, sub in val.items()))
    if key == "additionalProperties":
        if "patternProperties" in schema:
            raise _Unsupported
        known, extra = frozenset(schema.get("properties", {})), _compile(val, formats)
        if val is False:
            return lambda v: not isinstance(v, dict) or known.issuperset(v)
        return lambda v: not isinstance(v, dict) or all(extra(v[k]) for k in v if k not in known)
    if key in ("minLength", "maxLength"):
        low, high = (val, None) if key == "minLength" else (0, val)
        return lambda v: not isinstance(v, str) or (len(v) >= low and (high is None or len(v) <= high))
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return _bound(key, val)
    if key == "pattern":
        search = re.compile(val).search
        return lambda v: not isinstance(v, str) or search(v) is not None
    if key == "format":
        return formats.get(val)  # an unknown format is an annotation, as for jsonschema's FormatChecker
    if key in ("anyOf", "allOf", "oneOf", "not"):
        return _combinator(key, val, formats)
    raise _Unsupported


def _annotation(key: str) -> bool:
    return key in _ANNOTATIONS or key.startswith("x-")


def _string(schema: dict[str, Any], formats: Mapping[str, FormatCheck]) -> Check:
    """The common case fused into one function: a string with length bounds, a pattern, a format."""
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    fmt = formats.get(schema["format"]) if "format" in schema else None

    def check(v: Any) -> bool:
        if not isinstance(v, str) or len(v) < low or (high is not None and len(v) > high):
            return False
        return (search is None or search(v) is not None) and (fmt is None or fmt(v))

    return check


def _properties(subs: tuple[tuple[str, Check], ...]) -> Check:
    def check(v: Any) -> bool:
        if isinstance(v, dict):
            for name, sub in subs:
                if name in v and not sub(v[name]):
                    return False
        return True

    return check


def _bound(key: str, limit: float) -> Check:
    # phrased as jsonschema phrases them ("fails when below"), so that NaN passes here as it does there
    tests: dict[str, Callable[[Any], bool]] = {
        "minimum": lambda v: not v < limit,
        "maximum": lambda v: not v > limit,
        "exclusiveMinimum": lambda v: not v <= limit,
        "exclusiveMaximum": lambda v: not v >= limit,
    }
    test = tests[key]
    return lambda v: not _is_number(v) or test(v)


def _combinator(key: str, val: Any, formats: Mapping[str, FormatCheck]) -> Check:
    if key == "not":
        inner = _compile(val, formats)
        return lambda v: not inner(v)
    subs = [_compile(sub, formats) for sub in val]
    if key == "anyOf":
        return lambda v: any(s(v) for s in subs)
    if key == "allOf":
        return lambda v: all(s(v) for s in subs)
    return lambda v: sum(1 for s in subs if s(v)) == 1
