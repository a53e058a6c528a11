"""A compiled yes/no check for the subset of JSON Schema the event schemas use (the hot path).

jsonschema's validators walk the schema on every call (~100 µs an event for ours); almost every event is
valid, so `compile_check` turns a schema into one generated function (`check_source`) that only answers
"valid?", and jsonschema runs only for the rare invalid item, to explain it. The nested closures below are
what that function calls for the keywords it does not inline (oneOf, a nested additionalProperties).
The schema files stay the single source of truth: a schema using a keyword this module does not know
compiles to None and jsonschema does all the work. Property tests hold
`compile_check(s)(x) == compile_closures(s)(x) == Draft202012Validator(s).is_valid(x)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from services.ingest.domain.check_source import (
    OBJECT_KEYWORDS,
    STRING_KEYWORDS,
    Check,
    FormatCheck,
    Unsupported,
    annotation,
    forbidden_pattern,
    generated_check,
)


def compile_check(schema: object, formats: Mapping[str, FormatCheck]) -> Check | None:
    """A function telling whether an instance is valid, or None when the schema uses unsupported keywords."""
    try:
        return generated_check(schema, formats, lambda sub: _compile(sub, formats))
    except Unsupported:
        return None


def compile_closures(schema: object, formats: Mapping[str, FormatCheck]) -> Check | None:
    """The same answers from nested closures, without generated code (what the generated function calls)."""
    try:
        return _compile(schema, formats)
    except Unsupported:
        return None


_NUMBERS = (int, float)  # a tuple: `int | float` in isinstance() builds a union object on every call


def _is_number(v: Any) -> bool:
    return isinstance(v, _NUMBERS) and not isinstance(v, bool)


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
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        raise Unsupported
    keywords = {k: v for k, v in schema.items() if not annotation(k)}
    nullable = keywords.get("type") in (["string", "null"], ["null", "string"])
    forbidden = forbidden_pattern(keywords.get("not"))
    fused = keywords.keys() - {"not"} if forbidden is not None else keywords.keys()
    if (keywords.get("type") == "string" or nullable) and STRING_KEYWORDS.issuperset(fused):
        return _string(keywords, formats, nullable, forbidden)
    checks: list[Check] = []
    if OBJECT_KEYWORDS.intersection(keywords):
        must_be_object = keywords.get("type") == "object"
        checks.append(_object({k: keywords.pop(k) for k in OBJECT_KEYWORDS if k in keywords}, must_be_object, formats))
        if must_be_object:
            del keywords["type"]
    checks += [c for k, val in keywords.items() if (c := _keyword(k, val, formats)) is not None]
    return _all(checks)


def _always(v: Any) -> bool:
    return True


def _never(v: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    """The conjunction, with the common small cases unrolled (a call per check is the hot path's main cost)."""
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    every = tuple(checks)

    def check(v: Any) -> bool:
        for one in every:  # a plain loop: twice as fast as all() over a generator
            if not one(v):
                return False
        return True

    return check


def _keyword(key: str, val: Any, formats: Mapping[str, FormatCheck]) -> Check | None:
    if key == "type":
        names = [val] if isinstance(val, str) else list(val)
        if not set(names) <= _TYPES.keys():
            raise Unsupported
        tests = [_TYPES[t] for t in names]
        return tests[0] if len(tests) == 1 else _any(tests)
    if key == "enum":
        if not all(isinstance(e, str) for e in val):
            raise Unsupported
        allowed = frozenset(val)
        return lambda v: isinstance(v, str) and v in allowed
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
    raise Unsupported


def _string(
    schema: dict[str, Any], formats: Mapping[str, FormatCheck], nullable: bool, forbidden: str | None = None
) -> Check:
    """The common case fused into one function: a string (or null) with length bounds, a pattern, a format, and
    a forbidden pattern (`"not": {"type": "string", "pattern": ...}`, e.g. ids without control characters)."""
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    forbid = re.compile(forbidden).search if forbidden is not None else None
    fmt = formats.get(schema["format"]) if "format" in schema else None
    if search is None and forbid is None and fmt is None and high is not None and not nullable:
        return lambda v: isinstance(v, str) and low <= len(v) <= high  # most properties: a bounded string

    def check(v: Any) -> bool:
        if not isinstance(v, str):
            return nullable and v is None
        if len(v) < low or (high is not None and len(v) > high):
            return False
        if forbid is not None and forbid(v) is not None:
            return False
        return (search is None or search(v) is not None) and (fmt is None or fmt(v))

    return check


def _object(keywords: dict[str, Any], must_be_object: bool, formats: Mapping[str, FormatCheck]) -> Check:
    """`properties`, `additionalProperties`, `required` (and `type: object`) fused into one pass."""
    required = tuple(keywords.get("required", ()))
    subs = {name: _compile(sub, formats) for name, sub in keywords.get("properties", {}).items()}
    if "additionalProperties" not in keywords:
        return _declared_properties(required, tuple(subs.items()), must_be_object)
    extra = _compile(keywords["additionalProperties"], formats)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return not must_be_object
        for name in required:
            if name not in v:
                return False
        for key, value in v.items():  # every key is judged: by its own schema or by additionalProperties
            if not subs.get(key, extra)(value):
                return False
        return True

    return check


def _declared_properties(required: tuple[str, ...], subs: tuple[tuple[str, Check], ...], must_be_object: bool) -> Check:
    missing = object()

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return not must_be_object
        for name in required:
            if name not in v:
                return False
        for name, sub in subs:
            value = v.get(name, missing)
            if value is not missing and not sub(value):
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


def _any(subs: list[Check]) -> Check:
    def check(v: Any) -> bool:
        for sub in subs:
            if sub(v):
                return True
        return False

    return check


def _one(subs: list[Check]) -> Check:
    def check(v: Any) -> bool:
        matched = False
        for sub in subs:
            if sub(v):
                if matched:
                    return False
                matched = True
        return matched

    return check


def _combinator(key: str, val: Any, formats: Mapping[str, FormatCheck]) -> Check:
    if key == "not":
        inner = _compile(val, formats)
        return lambda v: not inner(v)
    subs = [_compile(sub, formats) for sub in val]
    if key == "anyOf":
        return _any(subs)
    if key == "allOf":
        return _all(subs)
    return _one(subs)
