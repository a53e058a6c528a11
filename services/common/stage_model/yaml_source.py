"""YAML text -> plain data plus the line of every node, so model errors can name the line.

The loader is `yaml.SafeLoader` with two YAML 1.1 surprises removed: `on`/`off`/`yes`/`no` stay strings
(a transition's `on:` key must not become `True`) and timestamps stay strings. Duplicate mapping keys,
which PyYAML silently overwrites, are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class YamlSourceError(ValueError):
    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: Any
    root: yaml.Node | None

    def node_at(self, path: Sequence[str | int]) -> yaml.Node | None:
        """The deepest node along `path` (mapping keys and sequence indexes) that exists."""
        node = self.root
        for part in path:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """1-based line where the value at `path` starts (or its nearest existing ancestor)."""
        node = self.node_at(path)
        return None if node is None else node.start_mark.line + 1


def parse_yaml(text: str) -> YamlDocument:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _refuse_duplicate_keys(root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlSourceError(line, f"not valid YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise YamlSourceError(None, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return YamlDocument(data=data, root=root)


def _refuse_duplicate_keys(node: yaml.Node) -> None:
    stack, visited = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in visited:  # an alias may point back to an ancestor
            continue
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise YamlSourceError(key.start_mark.line + 1, f"duplicate key {key.value!r}")
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
