"""YAML parsing that remembers the line of every key, so errors can point at it."""

from __future__ import annotations

import re
from typing import Any

import yaml

Path_ = tuple[Any, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans: `values: [yes, no]` stays text."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class YamlProblem(ValueError):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def load(text: str, first_line: int) -> tuple[Any, dict[Path_, int]]:
    """Parse `text` (which starts at file line `first_line`) into data and a path -> line map."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark else 0)
        raise YamlProblem(f"{exc.problem or exc.context}", line) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines, first_line)
    return data, lines


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], offset: int) -> None:
    lines.setdefault(path, node.start_mark.line + offset)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            lines[child] = key.start_mark.line + offset
            _walk(value, child, lines, offset)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, offset)


def line_of(lines: dict[Path_, int], path: Path_, default: int) -> int:
    """The line of the longest prefix of `path` that the file has."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), default)
