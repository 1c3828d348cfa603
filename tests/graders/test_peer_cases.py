"""Our checks held against their peers: cases ported from promptfoo's assertion tests and Inspect AI's scorers.

Each row is (check, parameters, output, our verdict, the peer it comes from). Every row runs the
whole path a trainer's criterion takes: the parameters are written into an exercise file, loaded
(so a parameter the loader refuses is an `error` verdict, as `lab validate` would report it) and
graded. Where we part from the peer on purpose, the row gives the peer's verdict (or score) and
`differs`, the reason; the table's own tests keep those two in step.

The peers' behaviour is taken from their own tests and source: promptfoo `test/assertions/*.test.ts`
and `src/assertions/{contains,equals,regex,startsWith,levenshtein}.ts` (contains-any/-all split a
string on commas; icontains lower-cases with JavaScript's toLowerCase; equals compares exactly, with
Unicode normalisation opt-in; levenshtein passes at an edit distance of 5 or less), and Inspect AI
`tests/scorer/test_{match,pattern}.py` and `src/inspect_ai/scorer/{_match,_common,_classification}.py`
(match() ignores case and strips surrounding punctuation by default; exact() compares bags of
normalised words; pattern() compares a captured group with the target, which a port writes into the
pattern itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from fixtures.exercise_files import load, minimal

from lab.errors import ExerciseError
from lab.practice.grading import grade

Verdict = Literal["pass", "fail", "error"]
NFD_CAFE = "Cafe\u0301"  # "Café" as e + combining accent: what some keyboards and PDFs produce
LAT_LONG = {
    "type": "object",
    "required": ["latitude", "longitude"],
    "properties": {
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
    },
}
# "test" against "completely different": 3 characters matched in order out of 4 + 20, a ratio of 0.25; 0.6 is the default threshold
SCORE_FAR = (2 * 3 / 24) / 0.6
DATED = {"type": "object", "required": ["date"], "properties": {"date": {"type": "string", "format": "date"}}}


@dataclass(frozen=True)
class Row:
    check: str
    params: dict[str, Any]
    output: str
    expect: Verdict
    peer: str
    negate: bool = False
    score: float | None = None  # our score, where it is not simply 1 for a pass and 0 for a fail
    peer_verdict: Verdict | None = None  # the peer's verdict, given only where it is not ours
    peer_score: float | None = None  # the peer's score, given only where it is not ours
    differs: str | None = None  # why we part from the peer

    def label(self) -> str:
        flag = "not " if self.negate else ""
        return f"{self.peer} | {flag}{self.check} {self.params} on {self.output[:30]!r}"


PF = "promptfoo"
IN = "inspect_ai"

TYPOGRAPHY = "text checks read typographic apostrophes and quotes as plain: the learner cannot see the difference on screen"
LOAD_ERROR = "a parameter that would match every output (or none) is an exercise mistake, reported at load time with its line and case"
PARTIAL = "contains-all gives partial credit: the share of values present, and the reason names the missing ones"
NO_STRIP = "a full stop is text: ends-with '?' must be able to require the question mark, so only white space is ignored"
SIMILAR_PARTIAL = "below its threshold, similar gives partial credit (similarity / threshold)"
CASE = "starts-with, ends-with and equals respect capitals (as promptfoo's do); icontains or a regex with flags: i when case must not count"

ROWS: list[Row] = [
    # ---------------------------------------------------------------- promptfoo: contains / icontains
    Row("contains", {"value": "world"}, "hello world", "pass", f"{PF} contains: output contains the expected string"),
    Row("contains", {"value": "universe"}, "hello world", "fail", f"{PF} contains: output does not contain the string"),
    Row("contains", {"value": "universe"}, "hello world", "pass", f"{PF} not-contains: inverse assertion", negate=True),
    Row("contains", {"value": "world"}, "hello world", "fail", f"{PF} not-contains on a present string", negate=True),
    Row("contains", {"value": 0}, "There are 0 errors", "pass", f"{PF} contains numeric value 0"),
    Row("contains", {"value": 0}, "no digits here", "fail", f"{PF} contains numeric value 0, absent"),
    Row("contains", {"value": ""}, "hello world", "error", f"{PF} contains: an empty value is refused (isContainsValue)"),
    Row("contains", {"value": "Hello"}, "hello world", "fail", f"{PF} contains is case-sensitive"),
    Row("contains", {"value": "don't know"}, "I don\u2019t know.", "pass", f"{PF} contains (String.includes, no normalisation)",
        peer_verdict="fail", differs=TYPOGRAPHY),
    Row("contains", {"value": "don't know", "raw": True}, "I don\u2019t know.", "fail", f"{PF} contains (String.includes, raw text)"),
    Row("contains", {"value": "Café"}, f"Le {NFD_CAFE} de la gare", "pass", f"{PF} contains (String.includes, no normalisation)",
        peer_verdict="fail", differs="text checks compare NFC text: an accent typed as a combining mark is the same letter"),
    Row("icontains", {"value": "WORLD"}, "hello world", "pass", f"{PF} icontains: case-insensitive match"),
    Row("icontains", {"value": "WoRlD"}, "Hello WORLD", "pass", f"{PF} icontains: mixed case in output and value"),
    Row("icontains", {"value": 0}, "There are 0 errors", "pass", f"{PF} icontains numeric value 0"),
    Row("icontains", {"value": "universe"}, "HELLO WORLD", "fail", f"{PF} icontains: absent whatever the case"),
    Row("icontains", {"value": "straße"}, "STRASSE 12", "pass", f"{PF} icontains (JavaScript toLowerCase keeps ß)",
        peer_verdict="fail", differs="case-blind checks use Unicode case folding (ß folds to ss), as Inspect's casefold() does"),
    Row("icontains", {"value": "10 000 €"}, "Total : 10\u00a0000\u00a0€", "pass", f"{PF} icontains (no-break spaces kept)",
        peer_verdict="fail", differs="no-break and thin spaces read as plain spaces: a French figure looks the same either way"),
    # ---------------------------------------------------------------- promptfoo: contains-any / icontains-any
    Row("contains-any", {"values": ["world", "universe"]}, "hello world", "pass", f"{PF} contains-any: one of the strings"),
    Row("contains-any", {"values": ["universe", "galaxy"]}, "hello world", "fail", f"{PF} contains-any: none of the strings"),
    Row("contains-any", {"values": ["world", "universe"]}, "hello world", "fail", f"{PF} not-contains-any", negate=True),
    Row("contains-any", {"values": ["universe", "galaxy"]}, "hello world", "pass", f"{PF} not-contains-any, none present", negate=True),
    Row("contains-any", {"values": ["hello, world", "universe"]}, "hello, world", "pass", f"{PF} contains-any: quoted values with commas"),
    Row("contains-any", {"values": ['a"b', "c"]}, 'a"b', "pass", f"{PF} contains-any: CSV doubled quotes as a literal quote"),
    Row("contains-any", {"values": ['a"b', "c"]}, "b", "fail", f"{PF} contains-any: no false positive on a partial token"),
    Row("contains-any", {"values": "world,universe"}, "hello world", "error", f"{PF} contains-any: comma-separated string input",
        peer_verdict="pass", differs="values is a YAML list: a string is refused at load time rather than split on commas, so a value may contain a comma"),
    Row("contains-any", {"values": ["", "world"]}, "test", "error", f"{PF} contains-any: empty quoted string",
        peer_verdict="pass", differs=LOAD_ERROR),
    Row("contains-any", {"values": []}, "hello world", "error", f"{PF} contains-any with an empty array (some() is false)",
        peer_verdict="fail", differs=LOAD_ERROR),
    Row("icontains-any", {"values": ["WORLD", "UNIVERSE"]}, "hello world", "pass", f"{PF} icontains-any: case-insensitive"),
    Row("icontains-any", {"values": ["hello, world", "universe"]}, "HELLO, WORLD", "pass", f"{PF} icontains-any: quoted values with commas"),
    Row("icontains-any", {"values": ['hello"world,test', "another,test"]}, "ANOTHER,TEST", "pass", f"{PF} icontains-any: escaped quotes with commas"),
    Row("icontains-any", {"values": ["WORLD"]}, "", "fail", f"{PF} icontains-any: empty entries ignored, empty output"),
    Row("icontains-any", {"values": ["", "WORLD"]}, "", "error", f"{PF} icontains-any: quoted empty string preserved",
        peer_verdict="pass", differs=LOAD_ERROR),
    # ---------------------------------------------------------------- promptfoo: contains-all / icontains-all
    Row("contains-all", {"values": ["hello", "world"]}, "hello world", "pass", f"{PF} contains-all: every string present"),
    Row("contains-all", {"values": ["hello", "world", "universe"]}, "hello world", "fail", f"{PF} contains-all: one missing",
        score=2 / 3, peer_score=0.0, differs=PARTIAL),
    Row("contains-all", {"values": ["hello, world", "foo"]}, "hello, world and foo", "pass", f"{PF} contains-all: quoted values with commas"),
    Row("contains-all", {"values": ["hello, world", "bar"]}, "hello, world and foo", "fail", f"{PF} contains-all: quoted value missing",
        score=0.5, peer_score=0.0, differs=PARTIAL),
    Row("contains-all", {"values": ["hello"]}, "hello world", "pass", f"{PF} contains-all: single value"),
    Row("contains-all", {"values": ['say "hello"', "another,phrase"]}, 'say "hello" and another,phrase here', "pass",
        f"{PF} contains-all: escaped quotes"),
    Row("contains-all", {"values": ['say "hello"', "missing,value"]}, 'say "hello" only', "fail",
        f"{PF} contains-all: escaped-quote value missing", score=0.5, peer_score=0.0, differs=PARTIAL),
    Row("contains-all", {"values": ["hello", "world"]}, "hello world", "fail", f"{PF} not-contains-all, all present", negate=True),
    Row("contains-all", {"values": ["hello", "universe"]}, "hello world", "pass", f"{PF} not-contains-all, one missing", negate=True),
    Row("contains-all", {"values": []}, "hello world", "error", f"{PF} contains-all with an empty array (every() is true)",
        peer_verdict="pass", differs=LOAD_ERROR),
    Row("icontains-all", {"values": ["HELLO", "WORLD"]}, "hello world", "pass", f"{PF} icontains-all: case-insensitive"),
    Row("icontains-all", {"values": ["HELLO", "WORLD", "UNIVERSE"]}, "hello world", "fail", f"{PF} icontains-all: one missing",
        score=2 / 3, peer_score=0.0, differs=PARTIAL),
    Row("icontains-all", {"values": ["HeLLo", "WoRLD"]}, "HELLO world", "pass", f"{PF} icontains-all: mixed case both sides"),
    Row("icontains-all", {"values": ["Hello, World", "Foo"]}, "HELLO, WORLD AND FOO", "pass", f"{PF} icontains-all: quoted values with commas"),
    Row("icontains-all", {"values": [""]}, "hello", "error", f"{PF} icontains-all: empty string value",
        peer_verdict="pass", differs=LOAD_ERROR),
    # ---------------------------------------------------------------- promptfoo: starts-with
    Row("starts-with", {"value": "Expected"}, "Expected output", "pass", f"{PF} starts-with passes"),
    Row("starts-with", {"value": "Expected"}, "Different output", "fail", f"{PF} starts-with fails"),
    Row("starts-with", {"value": "Expected"}, "Different output", "pass", f"{PF} not-starts-with", negate=True),
    Row("starts-with", {"value": "expected"}, "Expected output", "fail", f"{PF} starts-with is case-sensitive (String.startsWith)"),
    Row("starts-with", {"value": ""}, "Expected output", "error", f"{PF} starts-with: an empty value fails its invariant"),
    Row("starts-with", {"value": "Expected"}, "\n  Expected output", "pass", f"{PF} starts-with (String.startsWith, no trim)",
        peer_verdict="fail", differs="leading white space is ignored: a model's answer often opens with a newline the learner cannot see"),
    # ---------------------------------------------------------------- promptfoo: regex
    Row("regex", {"pattern": r"\d{3}-\d{2}-\d{4}"}, "Some text 123-45-6789", "pass", f"{PF} regex passes"),
    Row("regex", {"pattern": r"\d{3}-\d{2}-\d{4}"}, "No match here", "fail", f"{PF} regex fails"),
    Row("regex", {"pattern": r"\d{3}-\d{2}-\d{4}"}, "No match here", "pass", f"{PF} not-regex passes", negate=True),
    Row("regex", {"pattern": r"\d{3}-\d{2}-\d{4}"}, "Some text 123-45-6789", "fail", f"{PF} not-regex fails", negate=True),
    Row("regex", {"pattern": ""}, "anything", "error", f"{PF} regex: an empty pattern fails its invariant"),
    Row("regex", {"pattern": "(unclosed"}, "anything", "error", f"{PF} regex: invalid pattern graded as a failure",
        peer_verdict="fail", differs="a pattern that does not compile is the author's mistake, reported by lab validate, not a learner's failure"),
    Row("regex", {"pattern": r"I don't know\.?$"}, "I don\u2019t know.", "pass", f"{PF} regex (RegExp.test on raw text)",
        peer_verdict="fail", differs=TYPOGRAPHY),
    # ---------------------------------------------------------------- promptfoo: equals
    Row("equals", {"value": "hello world"}, "hello world", "pass", f"{PF} equals: matching primitive values"),
    Row("equals", {"value": "goodbye world"}, "hello world", "fail", f"{PF} equals: different primitive values"),
    Row("equals", {"value": "hello world"}, "hello world", "fail", f"{PF} not-equals: matching values", negate=True),
    Row("equals", {"value": "goodbye world"}, "hello world", "pass", f"{PF} not-equals: different values", negate=True),
    Row("equals", {"value": "hello world"}, "hello world\n", "pass", f"{PF} equals (=== on the raw output)",
        peer_verdict="fail", differs="surrounding white space is ignored: a trailing newline is not part of the answer"),
    Row("equals", {"value": "Café"}, NFD_CAFE, "pass", f"{PF} equals (normalizeUnicode off by default)",
        peer_verdict="fail", differs="text checks compare NFC text by default; raw: true compares the bytes, like promptfoo's default"),
    Row("equals", {"value": "Café", "raw": True}, NFD_CAFE, "fail", f"{PF} equals (normalizeUnicode off by default)"),
    Row("equals", {"value": {"foo": "bar"}}, '{"foo":"bar"}', "error", f"{PF} equals: object value matches valid JSON output",
        peer_verdict="pass", differs="equals compares text; structured equality is json with a schema (const), as the next rows show"),
    Row("json", {"schema": {"const": {"foo": "bar"}}}, '{"foo":"bar"}', "pass", f"{PF} equals: object value matches valid JSON output"),
    Row("json", {"schema": {"const": {"foo": "bar"}}}, '{"foo":"baz"}', "fail", f"{PF} equals: object value does not match"),
    Row("json", {"schema": {"const": {"foo": "bar"}}}, "hello world", "fail", f"{PF} equals: object value against non-JSON output"),
    # ---------------------------------------------------------------- promptfoo: is-json
    Row("json", {}, '{"key":"value"}', "pass", f"{PF} is-json passes"),
    Row("json", {}, "Not valid JSON", "fail", f"{PF} is-json fails"),
    Row("json", {"schema": LAT_LONG}, '{"latitude": 80.123, "longitude": -1}', "pass", f"{PF} is-json with schema passes"),
    Row("json", {"schema": LAT_LONG}, '{"latitude": "high", "longitude": [-1]}', "fail", f"{PF} is-json with schema fails"),
    Row("json", {"schema": DATED}, '{"date": "2021-08-29"}', "pass", f"{PF} is-json with formats (ajv-formats)"),
    Row("json", {"schema": DATED}, '{"date": "not a date"}', "fail", f"{PF} is-json with formats (ajv-formats), failure"),
    Row("json", {"schema": {"type": "string", "format": "email"}}, '"not-an-email"', "fail", f"{PF} is-json: ajv-formats email"),
    Row("json", {}, '{"x": NaN}', "fail", f"{PF} is-json (JSON.parse refuses NaN)"),
    Row("json", {}, '```json\n{"key": "value"}\n```', "fail", f"{PF} is-json (JSON.parse refuses a code fence)"),
    # ---------------------------------------------------------------- promptfoo: levenshtein, as `similar` by ratio
    Row("similar", {"reference": "test", "method": "ratio"}, "test", "pass", f"{PF} levenshtein: identical strings"),
    Row("similar", {"reference": "test", "method": "ratio"}, "tast", "pass", f"{PF} levenshtein: within the default threshold"),
    Row("similar", {"reference": "test", "method": "ratio", "threshold": 0.7}, "tist", "pass", f"{PF} levenshtein: within a custom threshold"),
    Row("similar", {"reference": "test", "method": "ratio"}, "completely different", "fail", f"{PF} levenshtein: beyond the threshold",
        score=SCORE_FAR, peer_score=0.0, differs=SIMILAR_PARTIAL),
    Row("similar", {"reference": "test", "method": "ratio", "threshold": 1.0}, "tast", "fail", f"{PF} levenshtein: threshold 0",
        score=0.75, peer_score=0.0, differs=SIMILAR_PARTIAL),
    Row("similar", {"reference": "test!@#$", "method": "ratio"}, "test!@#$", "pass", f"{PF} levenshtein: special characters"),
    Row("similar", {"reference": "", "method": "ratio"}, "", "error", f"{PF} levenshtein: empty strings",
        peer_verdict="pass", differs="a reference with no word cannot be resembled; it is refused at load time"),
    Row("similar", {"reference": "cat", "method": "ratio"}, "dog", "fail", f"{PF} levenshtein (distance 3 <= 5)",
        score=0.0, peer_verdict="pass", peer_score=1.0,
        differs="similarity is the share of characters in common, not an absolute edit distance that passes any two short words"),
    # ---------------------------------------------------------------- Inspect AI: includes
    Row("icontains", {"value": "paris"}, "The capital is PARIS.", "pass", f"{IN} includes() (ignore_case=True)"),
    Row("contains", {"value": "paris"}, "The capital is PARIS.", "fail", f"{IN} includes(ignore_case=False)"),
    Row("icontains", {"value": "Paris"}, "It is Lyon.", "fail", f"{IN} includes(): target absent"),
    Row("icontains", {"value": "don't know"}, "I don\u2019t know", "pass", f"{IN} includes() (casefold only)",
        peer_verdict="fail", differs=TYPOGRAPHY),
    # ---------------------------------------------------------------- Inspect AI: match(location=...)
    Row("starts-with", {"value": "ANSWER: B"}, "ANSWER: B, because the table says so", "pass", f"{IN} match(location='begin')"),
    Row("starts-with", {"value": "answer"}, "ANSWER: B", "fail", f"{IN} match(location='begin') ignores case",
        peer_verdict="pass", differs=CASE),
    Row("ends-with", {"value": "60"}, "28 + 32 = 60", "pass", f"{IN} match(location='end')"),
    Row("ends-with", {"value": "Paris"}, "The answer is Paris  \n", "pass", f"{IN} match(location='end'): white space stripped"),
    Row("ends-with", {"value": "Paris"}, "The answer is Paris.", "fail", f"{IN} match(location='end') strips punctuation",
        peer_verdict="pass", differs=NO_STRIP),
    Row("ends-with", {"value": "?"}, "Shall we meet on Tuesday?", "pass", f"{IN} match(location='end') on a question mark"),
    Row("ends-with", {"value": "?"}, "Shall we meet on Tuesday.", "fail", f"{IN} match(location='end'): '?' strips to '', which every text ends with",
        peer_verdict="pass", differs=NO_STRIP),
    Row("ends-with", {"value": "Paris"}, "The answer is paris", "fail", f"{IN} match(location='end') ignores case",
        peer_verdict="pass", differs=CASE),
    Row("icontains", {"value": "paris"}, "I think PARIS is right", "pass", f"{IN} match(location='any')"),
    Row("equals", {"value": "Paris"}, "  Paris \n", "pass", f"{IN} match(location='exact'): white space stripped"),
    Row("equals", {"value": "Paris"}, "paris", "fail", f"{IN} match(location='exact') ignores case",
        peer_verdict="pass", differs=CASE),
    Row("choice", {"values": ["Paris"]}, "Paris.", "pass", f"{IN} match(location='exact') strips a final full stop"),
    # ---------------------------------------------------------------- Inspect AI: pattern (target written into the pattern)
    Row("regex", {"pattern": "(foo)"}, "foo", "pass", f"{IN} pattern: single match success"),
    Row("regex", {"pattern": "(foo)"}, "model doesn't match", "fail", f"{IN} pattern: single match failure from model"),
    Row("regex", {"pattern": "(FOO)", "flags": "i"}, "foo", "pass", f"{IN} pattern(ignore_case=True)"),
    Row("regex", {"pattern": "(foo) (bar)"}, "foo bar", "pass", f"{IN} pattern: success on a subsequent group"),
    Row("regex", {"pattern": "(f[oz]o) (bar)"}, "foo bzr", "fail", f"{IN} pattern: only exact target matches"),
    Row("regex", {"pattern": "(foo) (foo)"}, "foo foo", "pass", f"{IN} pattern(match_all=True): every group is the target"),
    # ---------------------------------------------------------------- Inspect AI: exact()
    Row("equals", {"value": "Paris"}, "Paris", "pass", f"{IN} exact(): identical answer"),
    Row("equals", {"value": "Paris"}, "Lyon", "fail", f"{IN} exact(): different answer"),
    Row("equals", {"value": "The Eiffel Tower"}, "eiffel tower.", "fail", f"{IN} exact() drops articles, punctuation and case",
        peer_verdict="pass", differs="equals does not rewrite the answer; similar or icontains when the wording may vary"),
    Row("equals", {"value": "capital Paris"}, "Paris capital", "fail", f"{IN} exact() compares bags of words",
        peer_verdict="pass", differs="equals keeps word order: 'dog bites man' is not 'man bites dog'"),
]


def _grade(tmp_path: Path, row: Row) -> tuple[Verdict, float | None, str]:
    criterion = {"id": "c", "check": row.check, **row.params, "not": row.negate}
    try:
        exercise = load(tmp_path, "peer/row.j2", minimal(rubric={"criteria": [criterion]}))
    except ExerciseError as exc:
        return "error", None, str(exc)
    (result,) = grade(exercise, {"only": [row.output]}).criteria
    assert not result.ungraded, result.reason  # a text check always decides
    return ("pass" if result.passed else "fail"), result.score, result.reason


@pytest.mark.parametrize("row", ROWS, ids=[r.label() for r in ROWS])
def test_each_peer_case_gets_our_verdict(tmp_path: Path, row: Row):
    verdict, score, reason = _grade(tmp_path, row)
    assert verdict == row.expect, reason
    if verdict == "error":
        assert "criterion 'c'" in reason  # the load-time error names the criterion, as lab validate shows it
    else:
        expected = row.score if row.score is not None else float(verdict == "pass")
        assert score == pytest.approx(expected, abs=1e-3), reason


def test_the_table_is_large_and_names_a_peer_on_every_row():
    assert len(ROWS) >= 60
    assert all(r.peer.startswith((PF, IN)) for r in ROWS)
    assert len({(r.check, repr(r.params), r.output, r.negate) for r in ROWS}) == len(ROWS), "a row is repeated"


def test_every_row_that_parts_from_its_peer_says_why_and_no_other_does():
    for row in ROWS:
        parts = (row.peer_verdict is not None and row.peer_verdict != row.expect) or (
            row.peer_score is not None and row.peer_score != (row.score if row.score is not None else float(row.expect == "pass")))
        assert parts == (row.differs is not None), row.label()
        assert row.peer_verdict != row.expect, f"peer_verdict equal to ours is noise: {row.label()}"


def test_the_peers_checks_are_all_covered():
    promptfoo = {"contains", "icontains", "contains-any", "contains-all", "icontains-any", "icontains-all", "starts-with",
                 "regex", "equals", "is-json", "levenshtein"}
    inspect = {"includes", "match(location='begin')", "match(location='end')", "match(location='any')",
               "match(location='exact')", "pattern", "exact()"}
    peers = " ".join(r.peer for r in ROWS)
    assert [name for name in promptfoo if f"{PF} {name}" not in peers and f"{PF} not-{name}" not in peers] == []
    assert [name for name in inspect if f"{IN} {name}" not in peers] == []
    ours = {"contains", "icontains", "contains-any", "icontains-any", "contains-all", "icontains-all", "starts-with",
            "ends-with", "regex", "equals", "json", "similar"}
    assert ours <= {r.check for r in ROWS}

