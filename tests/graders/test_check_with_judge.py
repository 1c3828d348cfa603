"""`lab check` on exercises whose examples need a judge: offline it says which, with a model it decides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main

RUBRIC = {"criteria": [
    {"id": "names-canberra", "check": "judge", "rubric": "The answer names Canberra as the capital of Australia."},
    {"id": "mentions-australia", "check": "icontains", "value": "australia"},
]}


def exercise(root: Path, name: str, examples: list[dict]) -> Path:
    return write_exercise(root, f"geo/{name}.j2", minimal(rubric=RUBRIC, examples=examples))


GOOD = {"attempt": "Name the capital.", "outputs": {"only": "Australia's capital is Canberra. MEETS-RUBRIC"}, "expect": "pass"}
BAD = {"attempt": "Name a city.", "outputs": {"only": "Sydney is the biggest city."}, "expect": "fail"}
BAD_BUT_NAMES_AUSTRALIA = {"attempt": "x", "outputs": {"only": "Australia's capital is Sydney."}, "expect": "fail"}


@pytest.fixture
def root(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    return tmp_path / "exercises"


def test_without_a_model_says_which_examples_need_one(root: Path, capsys):
    exercise(root, "capital", [GOOD, BAD, BAD_BUT_NAMES_AUSTRALIA])
    assert main(["check", str(root)]) == 0
    out = capsys.readouterr().out
    # BAD fails on the offline criterion whatever the judge says; the other two need the judge
    assert "NEEDS A MODEL geo/capital example 1: expected pass, graded undecided (score 0.50)" in out
    assert "NEEDS A MODEL geo/capital example 3: expected fail, graded undecided (score 0.50)" in out
    assert "ok geo/capital example 2: expected fail, graded fail (score 0.00)" in out  # decided offline
    assert "    names-canberra (0.00 ×1): This criterion needs a judge model to grade it (pass --model or --judge-model)." in out
    assert out.rstrip().endswith("1 exercise(s), 3 example(s): 0 contradict their expectation, 2 need a model to decide (run `lab check --model M`).")
    assert main(["check", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["needs_model"] for e in data["exercises"][0]["examples"]] == [True, False, True]
    assert data["undecided"] == 2 and data["contradictions"] == 0


def test_with_a_model_the_judge_decides(cassette, api_base, root: Path, capsys):
    exercise(root, "capital", [GOOD, BAD, BAD_BUT_NAMES_AUSTRALIA])
    assert main(["check", str(root), "--model", "openai/judge-strict", "--api-base", api_base]) == 0
    out = capsys.readouterr().out
    assert "NEEDS A MODEL" not in out and "UNDECIDED" not in out
    assert out.rstrip().endswith("1 exercise(s), 3 example(s): 0 contradict their expectation.")


def test_judge_model_alone_is_enough_and_contradictions_exit_1(cassette, api_base, root: Path, capsys):
    wrong = {**BAD_BUT_NAMES_AUSTRALIA, "expect": "pass"}
    exercise(root, "capital", [GOOD, wrong])
    assert main(["check", str(root), "--judge-model", "openai/judge-strict", "--api-base", api_base]) == 1
    out = capsys.readouterr().out
    assert "CONTRADICTS geo/capital example 2: expected pass, graded fail (score 0.50)" in out
    assert "    names-canberra (0.00 ×1): The judge says FAIL: “the output does not meet the rubric.”" in out
    assert out.rstrip().endswith("1 exercise(s), 2 example(s): 1 contradict their expectation.")


def test_an_unusable_judge_leaves_examples_undecided_not_passed(cassette, api_base, root: Path, capsys, provider):
    if provider is not None:
        provider.rules = [("Rubric:", "Looks fine to me.")]
    exercise(root, "capital", [GOOD])
    assert main(["check", str(root), "--model", "openai/scripted", "--api-base", api_base]) == 0
    out = capsys.readouterr().out
    assert "UNDECIDED geo/capital example 1: expected pass, graded undecided" in out
    assert "The judge gave no usable answer twice (it has no `GRADE:` line and is not a JSON object)" in out
    assert out.rstrip().endswith("0 contradict their expectation, 1 stay undecided (the judge gave no usable answer).")


def test_check_without_a_model_never_imports_litellm(root: Path):
    exercise(root, "capital", [GOOD, BAD])
    code = ("import sys; from lab.cli import main; rc = main(['check', sys.argv[1]]); "
            "assert 'litellm' not in sys.modules, 'litellm imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_an_ungraded_criterion_says_ungraded_not_failed(tmp_path: Path):
    from fixtures.exercise_files import load

    from lab.practice.grading import grade

    exercise = load(tmp_path, "t/two.j2", minimal(cases=[{"name": "a"}, {"name": "b"}], rubric={"criteria": [RUBRIC["criteria"][0]]}))
    (criterion,) = grade(exercise, {"a": ["x"], "b": ["y"]}).criteria
    assert criterion.reason == ("Ungraded on 2 of 2 outputs. a: This criterion needs a judge model to grade it "
                                "(pass --model or --judge-model). Also ungraded on: b.")
