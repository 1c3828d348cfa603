"""`lab check --solution`: each exercise's solution is sent to the model and graded; those that do
not pass are named, with what cost them points; nothing lands in the author's history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.exercise_files import write_exercise
from test_cli import BRIEF, GREETING, lab

from lab.practice.store import Store


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "basics/greet.j2", GREETING, BRIEF + "{% block solution %}Hello {{ '{{ name }}' }}!{% endblock %}\n")
    wrong = {**GREETING, "id": "t/wrong"}
    write_exercise(root, "basics/wrong.j2", wrong, BRIEF + "{% block solution %}Goodbye, dear friend, see you soon{% endblock %}\n")
    write_exercise(root, "basics/bare.j2", {**GREETING, "id": "t/bare"}, BRIEF)
    return root


def test_solutions_that_fail_to_pass_are_named_and_exit_1(capsys, course: Path, cassette, api_base):
    code, out, err = lab(capsys, "check", str(course), "--solution", "--model", "openai/echo", "--api-base", api_base)
    assert code == 1, err
    assert "ok t/greet solution: graded pass (score 1.00)" in out
    assert "SOLUTION FAILS t/wrong solution: graded fail (score 0.56)" in out
    assert "    says-hello (0.00 ×1): The output does not contain “hello”, even ignoring case." in out
    assert "warning t/bare: has no solution block to check" in out
    assert out.rstrip().endswith("3 exercise(s), 6 example(s): 0 contradict their expectation; 1 solution(s) fail to pass.")
    with Store() as store:
        assert store.attempts() == []  # an author's check is no attempt


def test_solution_json(capsys, course: Path, cassette, api_base):
    code, out, _ = lab(capsys, "check", str(course), "--solution", "--model", "openai/echo", "--api-base", api_base, "--json")
    data = json.loads(out)
    assert code == 1 and data["failed_solutions"] == 1
    assert {e["id"]: e["solution"]["verdict"] for e in data["exercises"]} == {"t/greet": "pass", "t/wrong": "fail", "t/bare": "none"}


def test_solution_needs_a_model(capsys, course: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LAB_MODEL", raising=False)
    code, out, err = lab(capsys, "check", str(course), "--solution")
    assert (code, out) == (2, "")
    assert err == "lab: lab check --solution sends each exercise's solution to a model: pass --model M (or set LAB_MODEL).\n"
