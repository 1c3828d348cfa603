"""Our checks held against their peers: cases ported from promptfoo's assertions and Inspect AI's scorers.

Each row is (check, parameters, output, expected verdict, peer, differs). `peer` names where the case
comes from (promptfoo's assertion or Inspect's scorer of the same job, as their documentation and unit
tests describe it); `differs` is empty when our verdict is the peer's, and otherwise says why we
chose differently. Keep the table growing: a bug found against a peer becomes a row here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from graders import CheckContext, get_check


class Case(NamedTuple):
    check: str
    params: dict[str, Any]
    output: str
    passes: bool
    peer: str
    differs: str = ""


PF = "promptfoo"
INSPECT = "inspect_ai"

CASES = [
    # ---------------------------------------------------------------- equals / exact
    Case("equals", {"value": "Hello world"}, "Hello world", True, f"{PF} equals"),
    Case("equals", {"value": "Hello world"}, "Hello world!", False, f"{PF} equals"),
    Case("equals", {"value": "Hello world"}, "  Hello world\n", True, f"{INSPECT} exact",
         "promptfoo's equals compares untrimmed; surrounding white space is invisible to a learner, as Inspect's exact() strips it"),
    Case("equals", {"value": "Paris"}, "paris", False, f"{PF} equals"),
    Case("equals", {"value": "10 000 €"}, "10\u00a0000 €", True, f"{PF} equals",
         "a no-break space reads as a space: the learner cannot see the difference"),
    # ---------------------------------------------------------------- contains / icontains / includes
    Case("contains", {"value": "world"}, "Hello world", True, f"{PF} contains"),
    Case("contains", {"value": "World"}, "Hello world", False, f"{PF} contains"),
    Case("contains", {"value": "world"}, "Hello there", False, f"{PF} contains"),
    Case("contains", {"value": "42"}, "The answer is 42.", True, f"{INSPECT} includes"),
    Case("contains", {"value": 42}, "The answer is 42.", True, f"{PF} contains (numeric value)"),
    Case("contains", {"value": "don't know"}, "I don’t know.", True, f"{PF} contains",
         "typographic apostrophes read as plain ones (raw: true compares bytes, as promptfoo does)"),
    Case("contains", {"value": "don't know", "raw": True}, "I don’t know.", False, f"{PF} contains"),
    Case("contains", {"value": "Café"}, "Cafe\u0301 au lait", True, f"{PF} contains",
         "both sides are NFC-normalised; promptfoo compares code points and fails here"),
    Case("icontains", {"value": "WORLD"}, "Hello world", True, f"{PF} icontains"),
    Case("icontains", {"value": "world"}, "HELLO WORLD", True, f"{INSPECT} includes(ignore_case=True)"),
    Case("icontains", {"value": "planet"}, "Hello world", False, f"{PF} icontains"),
    Case("icontains", {"value": "straße"}, "STRASSE", True, f"{PF} icontains",
         "casefold, not lower(): 'ß' and 'SS' are the same word; promptfoo's toLowerCase differs"),
    # ---------------------------------------------------------------- contains-any / icontains-any
    Case("contains-any", {"values": ["cat", "dog"]}, "I have a dog", True, f"{PF} contains-any"),
    Case("contains-any", {"values": ["cat", "dog"]}, "I have a bird", False, f"{PF} contains-any"),
    Case("contains-any", {"values": ["Cat", "Dog"]}, "I have a dog", False, f"{PF} contains-any"),
    Case("contains-any", {"values": ["x"]}, "x", True, f"{PF} contains-any"),
    Case("icontains-any", {"values": ["Cat", "Dog"]}, "I have a DOG", True, f"{PF} icontains-any"),
    Case("icontains-any", {"values": ["cat", "dog"]}, "I have a fish", False, f"{PF} icontains-any"),
    Case("icontains-any", {"values": ["not sure", "I don't know"]}, "Honestly, I DON’T KNOW.", True, f"{PF} icontains-any",
         "typographic apostrophe read as plain"),
    # ---------------------------------------------------------------- contains-all / icontains-all
    Case("contains-all", {"values": ["cat", "dog"]}, "I have a cat and a dog", True, f"{PF} contains-all"),
    Case("contains-all", {"values": ["cat", "dog"]}, "I have a cat", False, f"{PF} contains-all"),
    Case("contains-all", {"values": ["cat", "dog"]}, "I have a Cat and a Dog", False, f"{PF} contains-all"),
    Case("contains-all", {"values": ["a"]}, "a", True, f"{PF} contains-all"),
    Case("icontains-all", {"values": ["cat", "dog"]}, "CAT and DOG", True, f"{PF} icontains-all"),
    Case("icontains-all", {"values": ["cat", "dog", "bird"]}, "cat and dog", False, f"{PF} icontains-all"),
    # ---------------------------------------------------------------- starts-with / ends-with / match
    Case("starts-with", {"value": "Hello"}, "Hello world", True, f"{PF} starts-with"),
    Case("starts-with", {"value": "world"}, "Hello world", False, f"{PF} starts-with"),
    Case("starts-with", {"value": "Hello"}, "  Hello world", True, f"{INSPECT} match(location='begin')",
         "leading white space ignored, as Inspect's match() strips; promptfoo's starts-with does not"),
    Case("starts-with", {"value": '"Yes"'}, "“Yes”, she said", True, f"{PF} starts-with", "typographic quotes read as plain"),
    Case("ends-with", {"value": "world"}, "Hello world", True, f"{INSPECT} match(location='end')"),
    Case("ends-with", {"value": "world"}, "Hello world.\n", False, f"{INSPECT} match(location='end', ignore_punctuation=False)"),
    Case("ends-with", {"value": "?"}, "Is it?  \n", True, f"{INSPECT} match(location='end')"),
    Case("ends-with", {"value": "Hello"}, "Hello world", False, f"{INSPECT} match(location='end')"),
    # ---------------------------------------------------------------- regex / pattern
    Case("regex", {"pattern": r"\d{3}-\d{4}"}, "Call 555-1234", True, f"{PF} regex"),
    Case("regex", {"pattern": r"\d{3}-\d{4}"}, "Call me", False, f"{PF} regex"),
    Case("regex", {"pattern": "^hello", "flags": "i"}, "HELLO there", True, f"{PF} regex (i flag)"),
    Case("regex", {"pattern": "^world"}, "hello\nworld", False, f"{PF} regex"),
    Case("regex", {"pattern": "^world", "flags": "m"}, "hello\nworld", True, f"{PF} regex (m flag)"),
    Case("regex", {"pattern": r"ANSWER: (\d+)"}, "So... ANSWER: 42", True, f"{INSPECT} pattern"),
    Case("regex", {"pattern": r"ANSWER: (\d+)"}, "So... answer is 42", False, f"{INSPECT} pattern"),
    Case("regex", {"pattern": "don't"}, "I don’t know", True, f"{PF} regex", "typographic apostrophe read as plain"),
    # ---------------------------------------------------------------- json / is-json
    Case("json", {}, '{"a": 1}', True, f"{PF} is-json"),
    Case("json", {}, "{a: 1}", False, f"{PF} is-json"),
    Case("json", {}, "[1, 2, 3]", True, f"{PF} is-json"),
    Case("json", {}, '"just a string"', True, f"{PF} is-json"),
    Case("json", {}, '{"x": NaN}', False, f"{PF} is-json (JSON.parse refuses NaN)"),
    Case("json", {}, '```json\n{"a": 1}\n```', False, f"{PF} is-json",
         "a fenced answer fails with a reason that names the fence; promptfoo's is-json also fails it (contains-json passes it)"),
    Case("json", {"schema": {"type": "object", "required": ["name"]}}, '{"name": "Ana"}', True, f"{PF} is-json with schema"),
    Case("json", {"schema": {"type": "object", "required": ["name"]}}, '{"age": 3}', False, f"{PF} is-json with schema"),
    Case("json", {"schema": {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}}, '{"d": "2024-02-30"}', False,
         f"{PF} is-json with schema (ajv-formats)"),
    Case("json", {"schema": {"type": "object", "properties": {"e": {"type": "string", "format": "email"}}}}, '{"e": "ana@example.org"}', True,
         f"{PF} is-json with schema (ajv-formats)"),
    Case("json", {"lines": True}, '{"a": 1}\n{"a": 2}\n', True, f"{PF} is-json", "JSON Lines is ours: promptfoo has no such mode"),
    # ---------------------------------------------------------------- word and length budgets
    Case("max-words", {"value": 5}, "one two three four five", True, f"{PF} javascript word count"),
    Case("max-words", {"value": 4}, "one two three four five", False, f"{PF} javascript word count"),
    Case("min-words", {"value": 3}, "one two", False, f"{PF} javascript word count"),
    Case("max-chars", {"value": 5}, "  hello  ", True, f"{PF} javascript length", "surrounding white space is not counted"),
    # ---------------------------------------------------------------- choice (Inspect's choice / exact over options)
    Case("choice", {"values": ["A", "B", "C"]}, "B", True, f"{INSPECT} exact"),
    Case("choice", {"values": ["A", "B", "C"]}, "B.", True, f"{INSPECT} exact",
         "a trailing full stop is ignored for a fixed label; Inspect's exact() keeps punctuation unless told to ignore it"),
    Case("choice", {"values": ["A", "B", "C"]}, "b", False, f"{INSPECT} exact",
         "case matters for a fixed label: the reason names the allowed spelling"),
    Case("choice", {"values": ["A", "B", "C"]}, "B because it is cheaper", False, f"{INSPECT} exact"),
    # ---------------------------------------------------------------- similar (promptfoo levenshtein / similar)
    Case("similar", {"reference": "The quick brown fox", "threshold": 0.8, "method": "ratio"}, "The quick brown fox", True, f"{PF} levenshtein"),
    Case("similar", {"reference": "The quick brown fox", "threshold": 0.9, "method": "ratio"}, "A slow red dog", False, f"{PF} levenshtein"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.check}-{i}" for i, c in enumerate(CASES)])
def test_our_verdict_on_a_peer_case(case: Case):
    check = get_check(case.check)
    result = check.fn(case.output, check.params.model_validate(case.params), CheckContext())
    assert result.passed is case.passes, f"{case.peer}: {result.reason}" + (f" (we differ: {case.differs})" if case.differs else "")


def test_the_table_is_large_and_names_a_peer_for_every_row():
    assert len(CASES) >= 60
    assert all(c.peer.startswith((PF, INSPECT)) for c in CASES)
    assert sum(1 for c in CASES if c.differs) >= 10  # the choices we made against a peer stay visible
