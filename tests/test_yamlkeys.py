"""The listing's quick reading of front-matter values (lab/format/yamlkeys.py) gives exactly what YAML gives.

A catalogue of a thousand files pays most of its cold start in PyYAML's constructor, so simple values
(a small integer, a phrase, a flow list of words, a double-quoted text without escapes) are read
without it; anything else goes to the parser. Each case here is a value the quick path either
declines or reads as YAML would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.format import yamlines, yamlkeys
from lab.format.listing import LISTING_KEYS

ROOT = Path(__file__).resolve().parent.parent

VALUES = [
    "1", "0", "5", "12", "007", "1_000", "0x1F", "1e3", "1.5", "-1", "+2", "1:30", "2026-12-03",
    "Ask for exactly what you want", "Ask for exactly what you want.", "Hold the price, keep the deal",
    "Let the model say \"I don't know\"", "it's fine", "Défense 4 : un assistant", "Attack 3: get past",
    "a #comment", "a# not a comment", "title - with dash", "yes", "no", "on", "off", "true", "False", "null",
    "~", "Null", "NULL", "y", "n", "TRUE", "", "  padded  ", "\"quoted\"", "\"with \\\"escape\\\"\"",
    "'single'", "\"Attack 1: ask\"", "\"\"", "[a, b-c, d.e]", "[]", "[ ]", "[yes, no]", "[true]",
    "[a b]", "[1, 2]", "[a, [b]]", "[a,]", "&anchor x", "*alias", "!tag x", "|", ">", "%x", "@x", "`x`",
    "Un seul prompt pour « vous »", "Üben", "é", "_x", "x\ty", "a: b", "a:b", "café ☕", "x ", "[ a , b ]",
]


def yaml_value(raw: str):
    return yaml.load(f"key: {raw}", Loader=yamlines.FastLoader)["key"]


@pytest.mark.parametrize("raw", VALUES)
def test_a_quick_value_is_the_value_yaml_gives(raw: str):
    ok, value = yamlkeys._quick_value(raw)
    if ok:
        assert value == yaml_value(raw) and type(value) is type(yaml_value(raw))


def test_the_quick_path_reads_most_bundled_front_matter_and_agrees_with_yaml():
    quick = 0
    files = [f for f in (ROOT / "exercises").rglob("*.j2") if not f.name.startswith("_")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        front = text[4: text.find("\n---", 4) + 1]
        whole = yaml.load(front, Loader=yamlines.FastLoader)
        read = yamlkeys.load_keys(front, LISTING_KEYS)
        assert read == {k: v for k, v in whole.items() if k in LISTING_KEYS}, path
        wanted = [line for line in front.split("\n") if (m := yamlkeys._TOP_KEY.match(line)) and m.group(1) in LISTING_KEYS]
        quick += yamlkeys._quick_mapping(wanted) is not None
    assert quick >= len(files) * 0.9  # the point of the quick path: the usual file never reaches PyYAML


def test_a_key_given_twice_or_a_continued_value_goes_to_yaml():
    assert yamlkeys._quick_mapping(["title: A", "title: B"]) is None
    assert yamlkeys._quick_mapping(["skills:", "  - a"]) is None


FRONTS = [
    "title: A\n\nlevel: 2\n", "title: A\n# a note\nlevel: 2\n", "title: A\n  # an indented note\nlevel: 2\n",
    "title: Hello\n  world\nlevel: 2\n", "title: Hello\n\n  world\n", "title: Hello\n# c\n  world\n",
    "skills:\n  - a\n  - b\ntitle: T\n", "skills:\n- a\n- b\ntitle: T\n", "cases:\n  - x: 1\ntitle: T\nlevel: 3",
    "title: &x A\nlevel: 2\n", "title: A\ntitle: B\n", "title: A\r\nlevel: 2\r\n", "\n\ntitle: A\n", "# head\ntitle: A\n",
    "title: A\n...\n", "{title: A}\n", "title: [a,\n  b]\n", "title: A\n\n\n",
]


@pytest.mark.parametrize("front", FRONTS)
def test_the_keys_read_are_the_keys_yaml_gives(front: str):
    try:
        whole = yaml.load(front, Loader=yamlines.FastLoader)
    except yaml.YAMLError:
        whole = None
    read = yamlkeys.load_keys(front, LISTING_KEYS)
    if isinstance(whole, dict):
        assert read == {k: v for k, v in whole.items() if k in LISTING_KEYS}
    else:
        assert read is None
