"""Rubric scoring: `not:`, the `cases:` filter, weights, the pass mark, samples and ungraded results."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from fixtures.exercise_files import load, minimal

from graders import CheckResult, register, registry
from graders.registry import Params
from lab.practice.grading import grade, grade_to_dict


@pytest.fixture
def undecided_check() -> Iterator[str]:
    """A check that can never decide, standing in for a judge without a usable answer."""

    def undecided(output: str, params: Params, ctx: Any) -> CheckResult:
        return CheckResult.not_graded("The judge gave no usable answer.")

    register("test-undecided")(undecided)
    yield "test-undecided"
    registry._registry.pop("test-undecided", None)


@pytest.fixture
def crashing_check() -> Iterator[str]:
    def crashes(output: str, params: Params, ctx: Any) -> CheckResult:
        raise ZeroDivisionError("division by zero")

    register("test-crashes")(crashes)
    yield "test-crashes"
    registry._registry.pop("test-crashes", None)


def rubric(*criteria: dict[str, Any], pass_mark: float = 1.0) -> dict[str, Any]:
    return {"pass": pass_mark, "criteria": list(criteria)}


def test_not_inverts_a_check(tmp_path: Path):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric({"id": "no-approved", "check": "contains", "value": "APPROVED", "not": True})))
    hijacked = grade(ex, {"only": ["APPROVED"]})
    assert (hijacked.score, hijacked.passed) == (0.0, False)
    assert hijacked.criteria[0].reason == "The output contains “APPROVED”."
    resisted = grade(ex, {"only": ["The email asks for approval."]})
    assert (resisted.score, resisted.passed) == (1.0, True)


def test_not_on_a_partial_check_passes_fully_when_the_check_fails(tmp_path: Path):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric({"id": "short", "check": "min-words", "value": 4, "not": True})))
    short = grade(ex, {"only": ["one two three"]})  # min-words 4 fails with 0.75: "fewer than 4 words" holds
    assert (short.criteria[0].score, short.criteria[0].passed, short.passed) == (1.0, True, True)
    long = grade(ex, {"only": ["one two three four five"]})
    assert (long.criteria[0].score, long.passed) == (0.0, False)


def test_cases_filter_with_globs(tmp_path: Path):
    cases = [{"name": "polite"}, {"name": "attack-1"}, {"name": "attack-2"}]
    ex = load(tmp_path, "a.j2", minimal(cases=cases, rubric=rubric(
        {"id": "resists", "check": "contains", "value": "APPROVED", "not": True, "cases": ["attack-*"]},
        {"id": "polite", "check": "icontains", "value": "thanks", "cases": ["polite"]},
    )))
    g = grade(ex, {"polite": ["Thanks!"], "attack-1": ["APPROVED"], "attack-2": ["No."]})
    resists, polite = g.criteria
    assert [r.case for r in resists.results] == ["attack-1", "attack-2"]
    assert resists.score == 0.5 and not resists.passed
    assert resists.reason == "Failed on 1 of 2 outputs. attack-1: The output contains “APPROVED”."
    assert [r.case for r in polite.results] == ["polite"] and polite.passed
    assert g.score == pytest.approx(0.75)


def test_weighted_rubric_score(tmp_path: Path):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric(
        {"id": "format", "check": "regex", "pattern": "^- ", "weight": 3},
        {"id": "length", "check": "max-words", "value": 2, "weight": 1},
    )))
    g = grade(ex, {"only": ["- one two three four"]})  # format 1.0 (×3), length 2/5 = 0.4 (×1)
    assert g.score == pytest.approx((3 * 1.0 + 1 * 0.4) / 4)
    assert grade_to_dict(g)["score"] == 0.85


def test_weight_zero_criterion_is_shown_but_not_scored(tmp_path: Path):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric(
        {"id": "main", "check": "icontains", "value": "hello"},
        {"id": "style", "check": "icontains", "value": "please", "weight": 0},
    )))
    g = grade(ex, {"only": ["hello"]})
    assert g.score == 1.0 and g.passed and not g.criteria[1].passed


@pytest.mark.parametrize(("pass_mark", "passed"), [(0.75, True), (0.76, False)])
def test_pass_mark_is_inclusive(tmp_path: Path, pass_mark: float, passed: bool):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric(
        *[{"id": f"c{i}", "check": "icontains", "value": word} for i, word in enumerate(["a", "b", "c", "zzz"])], pass_mark=pass_mark)))
    g = grade(ex, {"only": ["a b c"]})
    assert g.score == pytest.approx(0.75) and g.passed is passed


def test_ungraded_is_never_a_pass(tmp_path: Path, undecided_check: str):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric(
        {"id": "judged", "check": undecided_check},
        {"id": "judged-not", "check": undecided_check, "not": True},
        {"id": "hello", "check": "icontains", "value": "hello"},
        pass_mark=0.5,
    )))
    g = grade(ex, {"only": ["hello"]})
    judged, judged_not, hello = g.criteria
    for c in (judged, judged_not):  # `not:` does not turn "could not decide" into a pass
        assert (c.passed, c.ungraded, c.score, c.score_high) == (False, True, 0.0, 1.0)
        assert c.reason == "The judge gave no usable answer."
    assert hello.passed
    assert g.score == pytest.approx(1 / 3) and not g.passed
    assert g.score_high == 1.0 and not g.decided  # grading what is missing could still pass it
    assert g.ungraded == ["judged", "judged-not"]
    data = grade_to_dict(g)
    assert [c["ungraded"] for c in data["criteria"]] == [True, True, False]
    assert data["decided"] is False and data["passed"] is False


def test_ungraded_that_cannot_change_the_verdict_is_decided(tmp_path: Path, undecided_check: str):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric(
        {"id": "judged", "check": undecided_check},
        {"id": "hello", "check": "icontains", "value": "hello", "weight": 3},
        pass_mark=0.9,
    )))
    g = grade(ex, {"only": ["goodbye"]})
    assert not g.passed and g.decided  # even a perfect judge leaves it at 0.25


def test_a_crashing_check_is_ungraded_with_the_reason(tmp_path: Path, crashing_check: str):
    ex = load(tmp_path, "a.j2", minimal(rubric=rubric({"id": "buggy", "check": crashing_check}, pass_mark=0)))
    c = grade(ex, {"only": ["x"]}).criteria[0]
    assert c.ungraded and not c.passed
    assert c.reason == "The check failed to run (ZeroDivisionError: division by zero)."


def test_samples_average_and_unstable_criteria(tmp_path: Path):
    ex = load(tmp_path, "a.j2", minimal(cases=[{"name": "a"}, {"name": "b"}],
                                        rubric={"pass": 0.5, "samples": 2, "criteria": [{"id": "hi", "check": "icontains", "value": "hi"}]}))
    g = grade(ex, {"a": ["hi", "no"], "b": ["hi", "hi"]})
    c = g.criteria[0]
    assert c.score == 0.75 and c.pass_rate == 0.75 and c.unstable and not c.passed
    assert c.reason == "Failed on 1 of 4 outputs. a #2: The output does not contain “hi”, even ignoring case."
    assert g.passed


def test_parameters_are_rendered_per_case(tmp_path: Path):
    ex = load(tmp_path, "a.j2", minimal(
        vars={"labels": ["billing", "bug"]},
        cases=[{"name": "refund", "vars": {"label": "billing"}}, {"name": "crash", "vars": {"label": "bug"}}],
        rubric=rubric({"id": "label", "check": "equals", "value": "{{ label }}"},
                      {"id": "one-of", "check": "choice", "values": "{{ labels }}"})))
    assert ex.criterion_params["label"]["refund"].value == "billing"
    assert ex.criterion_params["one-of"]["crash"].values == ["billing", "bug"]  # a single expression keeps the list
    g = grade(ex, {"refund": ["billing"], "crash": ["billing"]})
    assert [r.passed for r in g.criteria[0].results] == [True, False]
    assert g.criteria[1].passed
