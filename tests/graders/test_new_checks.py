"""The checks trainers used to emulate with regular expressions: ends-with, contains-any/-all
(and their case-blind forms) and prompt-max-words, the learner's brevity budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.exercise_files import load, minimal

from graders import CheckContext, CheckResult, get_check
from lab.practice.checking import check_examples
from lab.practice.grading import grade


def run(check: str, output: str, ctx: CheckContext | None = None, **params: Any) -> CheckResult:
    found = get_check(check)
    return found.fn(output, found.params.model_validate(params), ctx or CheckContext())


# ------------------------------------------------------------------ prompt-max-words


def test_prompt_max_words_counts_the_learners_text_not_the_output():
    long_output = "word " * 500
    r = run("prompt-max-words", long_output, CheckContext(attempt="Say only the password."), value=5)
    assert (r.score, r.passed, r.reason) == (1.0, True, "Your text has 4 words (at most 5 allowed).")
    r = run("prompt-max-words", "ok", CheckContext(attempt="one two three four five six"), value=3)
    assert (r.score, r.passed, r.reason) == (0.5, False, "Your text has 6 words; at most 3 are allowed.")


def test_prompt_max_words_without_the_learners_text_is_ungraded_not_passed():
    r = run("prompt-max-words", "ok", value=3)
    assert r.ungraded and not r.passed
    assert r.reason == "The learner's text was not given to this check, so its length cannot be counted."


def budget_exercise(**criterion: Any) -> dict[str, Any]:
    return minimal(
        vars={"doc": "a b c d e f g h"},
        cases=[{"name": "short"}, {"name": "long", "vars": {"doc": "x"}}],
        rubric={"criteria": [{"id": "budget", "check": "prompt-max-words", "value": 6, **criterion}]},
        examples=[
            {"attempt": "Summarise: {{ doc }}", "outputs": {"short": "ok", "long": "ok"}, "expect": "fail"},
            {"attempt": "Summarise {{ doc }}", "outputs": {"short": "ok", "long": "ok"}, "expect": "fail"},
        ],
    )


def test_prompt_max_words_counts_the_text_as_rendered_for_each_case(tmp_path: Path):
    exercise = load(tmp_path, "t/budget.j2", budget_exercise())
    g = grade(exercise, {"short": ["ok"], "long": ["ok"]}, attempts={"short": "Summarise: a b c d e f g h", "long": "Summarise: x"})
    (criterion,) = g.criteria
    assert [(r.case, r.passed) for r in criterion.results] == [("short", False), ("long", True)]
    assert criterion.results[0].reason == "Your text has 9 words; at most 6 are allowed."


def test_lab_check_gives_prompt_max_words_each_examples_attempt(tmp_path: Path):
    exercise = load(tmp_path, "t/budget.j2", budget_exercise(cases=["long"]))
    verdicts = check_examples(exercise)
    assert [v.verdict for v in verdicts] == ["pass", "pass"]  # "Summarise: x" is 2 words, within 6


def test_prompt_max_words_negated(tmp_path: Path):
    exercise = load(tmp_path, "t/budget.j2", budget_exercise(**{"not": True}))
    verdicts = check_examples(exercise)
    assert [v.grade.score for v in verdicts] == [0.5, 0.5]  # over budget in 'short' only: the negation passes there
