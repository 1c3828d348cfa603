"""`writes: answer`: the learner's own text is graded as every case's output; no model is called for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.errors import ExerciseError
from lab.format.loader import load_exercise
from lab.practice.store import Store
from lab.settings import paths

REVIEW = minimal(
    id="hitl/review", writes="answer", vars={"code": "total = price * qty"},
    cases=[{"name": "only"}],
    rubric={"criteria": [
        {"id": "names-the-bug", "check": "icontains-all", "values": ["off-by-one", "line 3"]},
        {"id": "gives-a-fix", "check": "icontains", "value": "range(len(items))"},
    ]},
)
BRIEF = "{% block brief %}Review this code: {{ code }}{% endblock %}\n"
GOOD = "The loop has an off-by-one error on line 3; use range(len(items))."


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "hitl/review.j2", REVIEW, BRIEF)
    return root


def run(capsys, course: Path, text: str, *extra: str) -> tuple[int, str, str]:
    code = main(["run", "hitl/review", "--exercises", str(course), "--prompt", text, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_answer_is_graded_with_no_model_and_no_request(capsys, course: Path, monkeypatch: pytest.MonkeyPatch):
    from lab.models import llm

    def no_call(*args, **kwargs):
        raise AssertionError("a writes: answer attempt called a model")

    monkeypatch.setattr(llm, "complete", no_call)
    code, out, err = run(capsys, course, GOOD, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["passed"], data["score"], data["model"]) == (True, 1.0, "none (your answer)")
    assert data["cases"][0]["outputs"] == [GOOD]
    assert data["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    with Store(paths.database_file()) as store:
        [attempt] = store.attempts("hitl/review")
    assert (attempt.status, attempt.prompt, attempt.passed) == ("graded", GOOD, True)


def test_a_weak_answer_gets_the_reasons(capsys, course: Path):
    code, out, _ = run(capsys, course, "Looks fine to me.")
    assert code == 1
    assert out.startswith(" ✗ names-the-bug")  # no stream: the answer is the learner's own text
    assert "The output has 0 of the 2 phrases this criterion looks for (ignoring case)." in out


def test_the_learners_text_may_use_the_cases_variables(capsys, course: Path):
    code, out, _ = run(capsys, course, "In `{{ code }}` there is an off-by-one on line 3; use range(len(items)).", "--json")
    assert code == 0
    assert json.loads(out)["cases"][0]["outputs"] == ["In `total = price * qty` there is an off-by-one on line 3; use range(len(items))."]


def test_a_judge_criterion_needs_a_judge_model_and_says_so(capsys, tmp_path: Path):
    root = tmp_path / "course"
    judged = {**REVIEW, "rubric": {"criteria": [{"id": "tone", "check": "judge", "rubric": "The review is polite."}]}}
    write_exercise(root, "hitl/review.j2", judged, BRIEF)
    code, _, err = run(capsys, root, GOOD)
    assert code == 2
    assert err == ("lab: This exercise grades your answer with a judge model: pass --judge-model M (or --model M), "
                   "or set LAB_JUDGE_MODEL.\n")


def test_an_answer_exercise_with_a_user_block_is_an_authoring_error(tmp_path: Path):
    path = write_exercise(tmp_path, "hitl/bad.j2", REVIEW, BRIEF + "{% block user %}never sent{% endblock %}\n")
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path)
    assert "`writes: answer` calls no model, so its {% block user %} is never sent" in str(caught.value)
    assert "remove the block: the learner's own text is graded as the output of every case" in str(caught.value)
