"""YAML parsing that remembers the line of every key, so errors can point at it."""

from __future__ import annotations

import re
from typing import Any

import yaml

from lab.errors import CONTROL_CHARACTERS

Path_ = tuple[Any, ...]


def _without_yes_no(base: type) -> type:
    """`base` without YAML 1.1's yes/no/on/off booleans: `values: [yes, no]` stays text."""
    loader = type(f"Lab{base.__name__}", (base,), {})
    loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for key, resolvers in base.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    return loader


_Loader = _without_yes_no(yaml.SafeLoader)
# libyaml's parser, when PyYAML has it, is several times faster with the same nodes and line marks;
# its error messages differ, so a file that fails is parsed again by the Python one to explain why.
FastLoader = _without_yes_no(yaml.CSafeLoader) if getattr(yaml, "__with_libyaml__", False) else _Loader


class YamlProblem(ValueError):
    """Why a text cannot be read as YAML; `limit` when it is valid YAML past what we read."""

    def __init__(self, message: str, line: int, fix: str = "", limit: bool = False):
        super().__init__(message)
        self.line = line
        self.fix = fix
        self.limit = limit


MAX_VALUES = 100_000  # what aliases may expand a front matter to; far beyond any real exercise
MAX_DEPTH = 100  # nesting; Python's parser recurses per level


def _expanded_size(node: yaml.Node, memo: dict[int, int], depth: int = 0) -> int:
    """How many values `node` stands for once aliases are expanded (each alias counted in full),
    without expanding them: a "billion laughs" file is refused before anything walks it."""
    if depth > MAX_DEPTH:
        raise _TooDeep()
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, memo, depth + 1) for item in node.value)
    memo[id(node)] = size
    return size


class _TooDeep(Exception):
    pass


def check_size(node: yaml.Node | None, first_line: int) -> None:
    if node is None:
        return
    try:
        size = _expanded_size(node, {})
    except (_TooDeep, RecursionError):
        raise YamlProblem(f"the front matter nests more than {MAX_DEPTH} levels deep", first_line,
                          "flatten it: an exercise needs a few levels of keys and lists", limit=True) from None
    if size > MAX_VALUES:
        raise YamlProblem(f"the front matter's aliases (*name) expand to {size:,} values, more than the {MAX_VALUES:,} allowed",
                          first_line, "repeat fewer blocks by alias, or write the values out", limit=True) from None


# constructs whose start the parser remembers (the context mark) when their end never comes
_OPENERS = {"while parsing a flow sequence": ("[", "]"), "while parsing a flow mapping": ("{", "}"),
            "while scanning a quoted scalar": (None, None)}


def _unclosed(exc: yaml.MarkedYAMLError, text: str, first_line: int) -> YamlProblem | None:
    """The mistake is where an unclosed `[`, `{` or quote starts, not where the parser gave up."""
    opener = _OPENERS.get(exc.context or "")
    start, end = exc.context_mark, exc.problem_mark
    if opener is None or start is None or end is None or start.line == end.line:
        return None
    opened, closer = opener
    if opened is None:
        opened = closer = text[start.index] if start.index < len(text) else '"'
    line, gave_up = first_line + start.line, first_line + end.line
    return YamlProblem(f"the `{opened}` opened on line {line} is never closed (the parser gave up on line {gave_up}: {exc.problem})",
                       line, f"close it with `{closer}` on line {line}, or put the whole value in quotes if the `{opened}` is text")


def load(text: str, first_line: int) -> tuple[Any, dict[Path_, int]]:
    """Parse `text` (which starts at file line `first_line`) into data and a path -> line map."""
    try:
        return _load(FastLoader, text, first_line)
    except YamlProblem:
        if FastLoader is _Loader:
            raise
        return _load(_Loader, text, first_line)


def _load(loader_class: type, text: str, first_line: int) -> tuple[Any, dict[Path_, int]]:
    loader = None
    try:
        loader = loader_class(text)  # the pure-Python reader refuses a control character here already
        node = loader.get_single_node()
        check_size(node, first_line)
        if node is not None:
            _no_controls(node, first_line)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise YamlProblem(f"the front matter nests more than {MAX_DEPTH} levels deep", first_line,
                          "flatten it: an exercise needs a few levels of keys and lists", limit=True) from None
    except yaml.reader.ReaderError as exc:  # a character YAML refuses (a NUL, another control character): no mark, a position
        code = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
        raise YamlProblem(f"it has the control character U+{code:04X}, which YAML does not allow",
                          first_line + text.count("\n", 0, max(exc.position, 0)),
                          "delete it: most editors do not show it (search for it by its code)") from None
    except yaml.MarkedYAMLError as exc:
        unclosed = _unclosed(exc, text, first_line)
        if unclosed is not None:
            raise unclosed from None
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark else 0)
        raise YamlProblem(f"{exc.problem or exc.context}", line) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines, first_line)
    return data, lines


# C0 controls but tab and line breaks, DEL, C1: refused as raw bytes by YAML's reader, and refused here when a
# double-quoted escape ("\e[31m", "\x07") writes one: a title or a hint would carry it to the learner's terminal
_CONTROL = CONTROL_CHARACTERS  # as the fast listing refuses them (lab/format/listing.py)


def _no_controls(node: yaml.Node, first_line: int) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, yaml.ScalarNode):
            found = _CONTROL.search(item.value)
            if found:
                raise YamlProblem(f"a value holds the control character U+{ord(found.group()):04X} (written as an escape)",
                                  first_line + item.start_mark.line,
                                  "remove the escape: a terminal would act on it (colours, the window title) instead of showing it")
        elif isinstance(item, yaml.MappingNode):
            stack.extend(part for pair in item.value for part in pair)
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)


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
