"""One generated Python function per schema: the fast check's hot path (`fast_check.compile_check`).

Closures nested per keyword cost a Python call each (~60 ns) and re-dispatch on every value; an event's
envelope went through about twenty of them. Here a schema becomes the source of one function that walks the
object once: its keys are judged with one set comparison when `additionalProperties` is false, each declared
property is looked up once, and the leaf schemas (strings with bounds, patterns and formats; enums; types;
small objects) are inlined as expressions. What it does not inline (oneOf, a nested `additionalProperties`)
it calls as `fallback` builds it, the closure compiler. Compiled patterns, formats and enums are bound by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
FormatCheck = Callable[[object], bool]

ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default"})
STRING_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern", "format"})
OBJECT_KEYWORDS = frozenset({"properties", "additionalProperties", "required"})
_TYPE_TESTS = {
    "string": "isinstance({v}, str)",
    "number": "(isinstance({v}, _NUMBERS) and not isinstance({v}, bool))",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool) or isinstance({v}, float) and {v}.is_integer())",
    "boolean": "isinstance({v}, bool)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "null": "{v} is None",
}
_BOUNDS = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}
_ONE_CHARACTER_CLASS = re.compile(r"\[[^\[\]]*\]")
_PRINTABLE_ASCII = [chr(c) for c in range(0x20, 0x7F)]


class Unsupported(Exception):
    """The schema uses a keyword the fast check does not know (jsonschema then does all the work)."""


def annotation(key: str) -> bool:
    return key in ANNOTATIONS or key.startswith("x-")


def forbidden_pattern(schema: object) -> str | None:
    """P when `schema` (a `not`) is {"type": "string", "pattern": P}: strings must not contain a match of P."""
    if not isinstance(schema, dict):
        return None
    keywords = {k: v for k, v in schema.items() if not annotation(k)}
    if keywords.keys() != {"type", "pattern"} or keywords["type"] != "string":
        return None
    return str(keywords["pattern"])


def generated_check(schema: object, formats: Mapping[str, FormatCheck], fallback: Callable[[object], Check]) -> Check:
    """The schema's check as one generated function; raises Unsupported for an unknown keyword."""
    source = _Source(formats, fallback)
    body = source.top(schema)
    text = "def check(v):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, Any] = dict(source.names)
    exec(compile(text, f"<check of {_title(schema)}>", "exec"), namespace)  # our own source, from our own schema files
    check: Check = namespace["check"]
    return check


def _title(schema: object) -> str:
    return str(schema.get("$id", "a schema")) if isinstance(schema, dict) else "a schema"


class _Source:
    def __init__(self, formats: Mapping[str, FormatCheck], fallback: Callable[[object], Check]) -> None:
        self._formats = formats
        self._fallback = fallback
        self.names: dict[str, object] = {"_NUMBERS": (int, float), "_MISSING": object()}

    def bind(self, value: object) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def top(self, schema: object) -> list[str]:
        """The function's body: an object schema as statements (one pass over the keys), anything else as one
        expression."""
        keywords = _keywords(schema)
        if keywords is None or not OBJECT_KEYWORDS.intersection(keywords):
            return [f"return {self.expr(schema, 'v', 0)}"]
        must_be_object = keywords.get("type") == "object"
        rest = _other_keywords(keywords, must_be_object)
        otherwise = self._conjunction(rest, "v", 0)
        lines = [f"if not isinstance(v, dict): return {'False' if must_be_object else otherwise}"]
        required = keywords.get("required", ())
        if required:
            lines.append(f"if not {self.bind(frozenset(required))} <= v.keys(): return False")
        declared = keywords.get("properties", {})
        extra = keywords.get("additionalProperties", True)
        if extra is False:
            lines.append(f"if not v.keys() <= {self.bind(frozenset(declared))}: return False")
        elif extra is not True and _keywords(extra) != {}:
            known, test = self.bind(frozenset(declared)), self.expr(extra, "x", 1)
            lines.append(f"for k, x in v.items():\n        if k not in {known} and not {test}: return False")
        for name, sub in declared.items():
            test = self.expr(sub, "x", 1)
            if test != "True":
                lines.append(f"x = v.get({name!r}, _MISSING)")
                lines.append(f"if x is not _MISSING and not {test}: return False")
        lines.append(f"return {otherwise}")
        return lines

    def expr(self, schema: object, v: str, depth: int) -> str:
        """A boolean expression telling whether the value named `v` is valid."""
        keywords = _keywords(schema)
        if keywords is None:
            return "True" if schema is True else "False"
        if not keywords:
            return "True"
        nullable = keywords.get("type") in (["string", "null"], ["null", "string"])
        forbidden = forbidden_pattern(keywords.get("not"))
        fused = keywords.keys() - {"not"} if forbidden is not None else keywords.keys()
        if (keywords.get("type") == "string" or nullable) and STRING_KEYWORDS.issuperset(fused):
            return self._string(keywords, v, nullable, forbidden)
        if OBJECT_KEYWORDS.intersection(keywords):
            return self._object(schema, keywords, v, depth)
        return self._conjunction(keywords, v, depth)

    def _conjunction(self, keywords: Mapping[str, Any], v: str, depth: int) -> str:
        tests = [t for key, value in keywords.items() if (t := self._keyword(key, value, v, depth)) != "True"]
        return "(" + " and ".join(tests) + ")" if tests else "True"

    def _string(self, keywords: Mapping[str, Any], v: str, nullable: bool, forbidden: str | None) -> str:
        tests = [f"isinstance({v}, str)"]
        low, high = int(keywords.get("minLength", 0)), keywords.get("maxLength")
        if high is not None:
            tests.append(f"{low} <= len({v}) <= {int(high)}" if low else f"len({v}) <= {int(high)}")
        elif low:
            tests.append(f"len({v}) >= {low}")
        if forbidden is not None:
            search = self.bind(re.compile(forbidden).search)
            if _never_matches_printable_ascii(forbidden):  # most ids: two C calls instead of a regex search
                tests.append(f"({v}.isascii() and {v}.isprintable() or {search}({v}) is None)")
            else:
                tests.append(f"{search}({v}) is None")
        if "pattern" in keywords:
            tests.append(f"{self.bind(re.compile(keywords['pattern']).search)}({v}) is not None")
        if "format" in keywords and (fmt := self._formats.get(keywords["format"])) is not None:
            tests.append(f"{self.bind(fmt)}({v})")
        test = " and ".join(tests)
        return f"({v} is None or {test})" if nullable else f"({test})"

    def _object(self, schema: object, keywords: Mapping[str, Any], v: str, depth: int) -> str:
        """A nested object as an expression; with `additionalProperties` (a loop) the fallback's closure."""
        if "additionalProperties" in keywords:
            return f"{self.bind(self._fallback(schema))}({v})"
        must_be_object = keywords.get("type") == "object"
        rest = _other_keywords(keywords, must_be_object)
        x = f"x{depth}"
        tests = [f"{self.bind(frozenset(keywords['required']))} <= {v}.keys()"] if keywords.get("required") else []
        for name, sub in keywords.get("properties", {}).items():
            test = self.expr(sub, x, depth + 1)
            if test != "True":
                tests.append(f"(({x} := {v}.get({name!r}, _MISSING)) is _MISSING or {test})")
        fields = " and ".join(tests) or "True"
        is_object = f"isinstance({v}, dict)"
        shape = f"({is_object} and {fields})" if must_be_object else f"(not {is_object} or {fields})"
        others = self._conjunction(rest, v, depth)
        return shape if others == "True" else f"({shape} and {others})"

    def _keyword(self, key: str, val: Any, v: str, depth: int) -> str:
        if key == "type":
            names = [val] if isinstance(val, str) else list(val)
            if not set(names) <= _TYPE_TESTS.keys():
                raise Unsupported
            return "(" + " or ".join(_TYPE_TESTS[t].format(v=v) for t in names) + ")"
        if key == "enum":
            if not all(isinstance(e, str) for e in val):
                raise Unsupported
            return f"(isinstance({v}, str) and {v} in {self.bind(frozenset(val))})"
        if key in ("minLength", "maxLength"):
            bound = f"len({v}) >= {int(val)}" if key == "minLength" else f"len({v}) <= {int(val)}"
            return f"(not isinstance({v}, str) or {bound})"
        if key in _BOUNDS:  # phrased as jsonschema does ("fails when below"), so that NaN passes as it does there
            number = _TYPE_TESTS["number"].format(v=v)
            return f"(not {number} or not {v} {_BOUNDS[key]} {self.bind(val)})"
        if key == "pattern":
            return f"(not isinstance({v}, str) or {self.bind(re.compile(val).search)}({v}) is not None)"
        if key == "format":  # an unknown format is an annotation, as for jsonschema's FormatChecker
            fmt = self._formats.get(val)
            return "True" if fmt is None else f"{self.bind(fmt)}({v})"
        if key == "not":
            return f"(not {self.expr(val, v, depth)})"
        if key in ("anyOf", "allOf"):
            if not val:
                return "False" if key == "anyOf" else "True"
            joiner = " or " if key == "anyOf" else " and "
            return "(" + joiner.join(self.expr(sub, v, depth) for sub in val) + ")"
        if key == "oneOf":
            return f"{self.bind(self._fallback({key: val}))}({v})"
        raise Unsupported


def _keywords(schema: object) -> dict[str, Any] | None:
    """The schema's keywords without annotations; None for a boolean schema."""
    if schema is True or schema is False:
        return None
    if not isinstance(schema, dict):
        raise Unsupported
    return {k: v for k, v in schema.items() if not annotation(k)}


def _other_keywords(keywords: Mapping[str, Any], must_be_object: bool) -> dict[str, Any]:
    """What an object schema asks besides its properties (`type: object` is in the object test itself)."""
    return {k: v for k, v in keywords.items() if k not in OBJECT_KEYWORDS and not (k == "type" and must_be_object)}


def _never_matches_printable_ascii(pattern: str) -> bool:
    """Whether `pattern` is one character class matching no printable ASCII character: then a string of only
    those (`isascii() and isprintable()`: U+0020 to U+007E) holds no match."""
    if _ONE_CHARACTER_CLASS.fullmatch(pattern) is None:
        return False
    search = re.compile(pattern).search
    return not any(search(c) for c in _PRINTABLE_ASCII)
