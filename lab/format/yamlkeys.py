"""The top-level keys a listing needs from a front matter, read without PyYAML when they are plain.

A catalogue of a thousand files pays most of its cold start in PyYAML (its import as much as its
constructor), so the usual front matter is read here with a few regular expressions, and PyYAML
(through `lab.format.yamlines`) is imported only for a file laid out any other way.
"""

from __future__ import annotations

import re
from typing import Any

_TOP_KEY = re.compile(r"([A-Za-z_][\w-]*)\s*:(?:\s|$)")
# a line that starts a top-level entry (not empty, not indented, not a comment nor a list item's "- "),
# with the newline before it: searched for in "\n" + text, as a literal first character lets the regex
# engine skip to each newline (three times faster than `^` in MULTILINE mode, which tries every position)
_TOP_LINE = re.compile(r"\n(?![ \t#\n]|- |\Z)[^\n]*")


def load_keys(text: str, keys: frozenset[str]) -> dict[str, Any] | None:
    """Only the top-level `keys` of a mapping, without building the rest (a listing needs a title,
    not every case and example). None when the text is not a plain mapping or does not parse: the
    caller then loads it fully to say why.

    The lines of each wanted key (its line and the indented ones after it) are cut out and parsed
    alone; text laid out any other way at the top level (flow mappings, anchors, document markers)
    falls back to libyaml's node tree of the whole text."""
    chunks: list[str] = []
    text = "\n" + text
    tops = list(_TOP_LINE.finditer(text))  # a dozen lines of a hundred: the rest is never looked at
    for i, top in enumerate(tops):
        line = top.group()[1:]
        match = _TOP_KEY.match(line)
        if match is None or "&" in line or "*" in line.split(":", 1)[1][:3]:
            return _load_keys_from_nodes(text[1:], keys)
        if match.group(1) in keys:  # its line and every line up to the next top-level one
            chunks.append(text[top.start() + 1: tops[i + 1].start() + 1 if i + 1 < len(tops) else len(text)])
    wanted = "".join(chunks).split("\n")
    quick = _quick_mapping(wanted)
    if quick is not None:
        return quick
    import yaml

    from lab.format.yamlines import FastLoader

    try:
        data = yaml.load("\n".join(wanted), Loader=FastLoader) if any(wanted) else {}
    except (yaml.YAMLError, RecursionError):
        return _load_keys_from_nodes(text[1:], keys)
    return data if isinstance(data, dict) else None


# The values a listing's keys usually hold, read without building YAML nodes (a catalogue of a
# thousand files pays most of its cold start in PyYAML's constructor): a small integer, a plain word
# or phrase that starts with a letter, or a flow list of plain words. Anything else (quotes, comments,
# continuation lines, YAML's special words, a colon) goes to the real parser; tests/test_yamlkeys.py
# checks that every quick value is the one YAML gives.
_QUICK_INT = re.compile(r"(?:0|[1-9][0-9]{0,8})")
_QUICK_TEXT = re.compile(r"[^\W\d_][^:#\[\]{}&*!|>%@`\\\t]*")
_QUICK_QUOTED = re.compile(r'"[^"\\\t]*"')  # double quotes with no escape in them: the text between
_QUICK_WORD = re.compile(r"[^\W\d_][\w.-]*")
_YAML_WORDS = frozenset({"true", "false", "null", "~"})


def _quick_value(raw: str) -> tuple[bool, Any]:
    value = raw.strip()
    if _QUICK_INT.fullmatch(value):
        return True, int(value)
    if value.startswith("[") and value.endswith("]"):
        items = [item.strip() for item in value[1:-1].split(",")]
        if items == [""]:
            return True, []
        if all(_QUICK_WORD.fullmatch(item) and item.lower() not in _YAML_WORDS for item in items):
            return True, items
        return False, None
    if _QUICK_QUOTED.fullmatch(value):
        return True, value[1:-1]
    if _QUICK_TEXT.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return True, value
    return False, None


def _quick_mapping(lines: list[str]) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # a blank or comment line between keys: every quick value is one line, so nothing to continue
        match = _TOP_KEY.match(line)
        if match is None or match.group(1) in data:
            return None  # a continuation line, or a key given twice: YAML decides
        ok, value = _quick_value(line[match.end():])
        if not ok:
            return None
        data[match.group(1)] = value
    return data


def _load_keys_from_nodes(text: str, keys: frozenset[str]) -> dict[str, Any] | None:
    import yaml

    from lab.format.yamlines import FastLoader, YamlProblem, check_size

    loader = FastLoader(text)
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode):
            return None
        check_size(node, 1)
        return {key.value: loader.construct_object(value, deep=True) for key, value in node.value
                if isinstance(key, yaml.ScalarNode) and key.value in keys}
    except (yaml.YAMLError, YamlProblem, RecursionError):
        return None  # the full load says why
    finally:
        loader.dispose()
