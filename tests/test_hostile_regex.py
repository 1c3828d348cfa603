"""Trainers' regular expressions run with a time bound (graders/_regex.py): a pattern that would
backtrack without end leaves its criterion ungraded with the reason, and never hangs an attempt,
`lab check` or a class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.exercise_files import minimal, write_exercise

from graders import CheckContext, CheckResult, _regex, get_check
from lab.cli import main

ATTACK = "a" * 41 + "!"  # what a learner can make the model write


@pytest.fixture
def quick_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_regex, "SEARCH_SECONDS", 0.2)  # the patterns below never finish: no need to wait a full second


def run(check: str, output: str, **params: Any) -> CheckResult:
    found = get_check(check)
    return found.fn(output, found.params.model_validate(params), CheckContext())


def test_nested_quantifiers_that_hang_python_re_are_decided_at_once():
    # Python's `re` takes minutes on this; the engine the lab uses does not backtrack into it
    result = run("regex", ATTACK, pattern=r"^(a+)+$")
    assert not result.passed and not result.ungraded
    assert run("regex", "a" * 41, pattern=r"^(a+)+$").passed


def test_a_pattern_past_the_time_bound_leaves_its_criterion_ungraded_with_the_reason(quick_bound: None):
    result = run("regex", ATTACK, pattern=r"^(a|aa)+$")
    assert result.ungraded and not result.passed
    assert result.reason == ("This criterion's pattern took more than 0.2 s on this output, so it was not graded "
                             "(the exercise's author should simplify the pattern).")


def test_consistent_extract_is_bounded_too(quick_bound: None):
    found = get_check("consistent")
    params = found.params.model_validate({"groups": [["x", "y"]], "extract": r"^((?:a|aa)+)$"})
    result = found.fn({"x": [ATTACK], "y": ["aa"]}, params, CheckContext())
    assert result.ungraded
    assert result.reason == ("The pattern that reads each decision took more than 0.2 s on the output of x, so this criterion "
                             "was not graded (the exercise's author should simplify `extract`).")


def test_a_json_schema_pattern_is_bounded_too(quick_bound: None):
    result = run("json", f'{{"code": "{ATTACK}"}}', schema={"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a|aa)+$"}}})
    assert result.ungraded
    assert result.reason.startswith("A pattern of this criterion's schema took more than 0.2 s on this output")
    keys = run("json", f'{{"{ATTACK}": 1}}', schema={"type": "object", "patternProperties": {"^(a|aa)+$": {}}, "additionalProperties": False})
    assert keys.ungraded


def test_json_schema_patterns_still_decide_as_jsonschema_does():
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[A-Z]{3}$"}},
              "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False}
    assert run("json", '{"id": "ABC", "x-a": 1}', schema=schema).passed
    assert "does not match" in run("json", '{"id": "abcd"}', schema=schema).reason
    assert "'other' does not match any of the regexes: '^x-'" in run("json", '{"other": 1}', schema=schema).reason
    assert "is not of type 'integer'" in run("json", '{"x-a": "no"}', schema=schema).reason


def test_a_schema_whose_patterns_jsonschema_would_run_unbounded_is_refused_at_load():
    found = get_check("json")
    with pytest.raises(ValueError, match="`unevaluatedProperties` beside `patternProperties` is not supported"):
        found.params.model_validate({"schema": {"patternProperties": {"^a": {}}, "unevaluatedProperties": False}})


def test_lab_check_on_a_runaway_pattern_ends_with_the_criterion_ungraded(tmp_path: Path, capsys, quick_bound: None):
    root = tmp_path / "course"
    path = write_exercise(root, "t/runaway.j2", minimal(
        rubric={"criteria": [{"id": "only-as", "check": "regex", "pattern": "^(a|aa)+$"}]},
        examples=[{"attempt": "Write many a's.", "outputs": {"only": ATTACK}, "expect": "fail"}]))
    code = main(["check", str(path), "--exercises", str(root)])
    out = capsys.readouterr().out
    assert code == 0, out  # an undecided example contradicts nothing
    assert "UNDECIDED t/runaway example 1: expected fail, graded undecided (score 0.00)" in out
    assert "only-as (0.00 ×1): This criterion's pattern took more than 0.2 s on this output, so it was not graded" in out
    assert out.rstrip().endswith("0 contradict their expectation, 1 stay undecided (a criterion could not be graded: its reason says why).")


@pytest.mark.parametrize(("pattern", "why"), [
    ("(?:" * 200 + "a" + ")" * 200, "nests groups more than 100 deep; write it flatter"),  # regex's compiler: RecursionError
    ("a{4294967294}", "repeats more than 100,000 items"),  # regex's compiler: gigabytes
    ("(?:a{1000}){1000}", "repeats more than 100,000 items"),  # a third of a second, and memory, at every load
    # read by hand, these hid their repeats: a class opening with `^]`, a comment, a verbose-mode comment
    ("(?:(?:a{1000}[^])(]){1000}[^])(]){1000}", "repeats more than 100,000 items"),
    ("(?#[)(?:(?:a{1000}){1000}){1000}(?#])", "repeats more than 100,000 items"),
    ("(?x)#[\n(?:(?:a{1000}){1000}){1000}\n#]", "repeats more than 100,000 items"),
    ("a{" + "9" * 5000 + "}", "cannot be compiled here (ValueError)"),  # a count Python will not read as a number
])
def test_a_pattern_whose_compiling_would_take_the_machine_is_refused_at_load(pattern: str, why: str):
    from graders._regex import syntax_problem

    assert syntax_problem(pattern).startswith(why)
    assert syntax_problem("#[\n(?:(?:a{1000}){1000}){1000}\n#]", "x").startswith("repeats more")  # verbose through `flags: x`
    for fine in (r"^\d{3}-\d{4}$", "(?:a{100}){100}", r"[\]{]{3}", r"\b(\w+)\s+\1\b", "x{2,}"):
        assert syntax_problem(fine) is None, fine
