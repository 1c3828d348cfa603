"""`lab export`: the learner's attempts as submission JSON Lines, and reading them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.classroom.submissions import FORMAT, pick, read_submissions
from lab.cli import main
from lab.practice.store import Store


def record(store: Store, exercise: str, prompt: str, *, score: float | None = 0.5, status: str = "graded", track: str = "basics") -> int:
    attempt = store.begin_attempt(exercise_id=exercise, exercise_hash="h1", track=track, model="openai/echo", api_base=None,
                                  prompt=prompt, samples=1, hints_used=1)
    store.finish_attempt(attempt, status=status, score=score, passed=bool(score and score >= 1),
                         result={"cases": [{"name": "only", "outputs": [f"out of {prompt}"]}]})
    return attempt


def lab(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def attempts(lab_home: Path) -> None:
    with Store() as store:
        record(store, "t/greet", "Say hello.")
        record(store, "t/greet", "Say hello briefly.", score=1.0)
        record(store, "other/x", "Other.", track="other")


def test_export_writes_one_line_per_attempt_in_the_contract_shape(capsys, attempts):
    code, out, err = lab(capsys, "export", "--learner", "ana")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert set(first) == {"format", "learner", "exercise", "exercise_hash", "prompt", "model", "created", "status", "score",
                          "passed", "hints_used", "outputs"}
    assert first["format"] == FORMAT and first["learner"] == "ana" and first["exercise"] == "t/greet"
    assert first["prompt"] == "Say hello." and first["outputs"] == {"only": ["out of Say hello."]} and first["hints_used"] == 1
    assert first["created"].endswith("+00:00")


def test_learner_comes_from_the_variable_then_the_config(capsys, attempts, lab_home: Path, monkeypatch):
    (lab_home / "config.toml").write_text('learner = "cleo"\n', encoding="utf-8")
    code, out, _ = lab(capsys, "export")
    assert code == 0 and json.loads(out.splitlines()[0])["learner"] == "cleo"
    monkeypatch.setenv("LAB_LEARNER", "bob")
    code, out, _ = lab(capsys, "export")
    assert json.loads(out.splitlines()[0])["learner"] == "bob"
    code, out, _ = lab(capsys, "export", "--learner", "ana")
    assert json.loads(out.splitlines()[0])["learner"] == "ana"


def test_no_learner_name_says_how_to_set_one(capsys, attempts, lab_home: Path):
    code, out, err = lab(capsys, "export")
    assert code == 2 and out == ""
    assert err == f"lab: No learner name for the submissions: pass --learner NAME, set LAB_LEARNER, or add learner = \"NAME\" to {lab_home / 'config.toml'}.\n"


def test_an_empty_learner_flag_is_refused(capsys, attempts):
    code, _, err = lab(capsys, "export", "--learner", "  ")
    assert code == 2 and err == "lab: --learner is empty: give your name, e.g. --learner ana.\n"


def test_filters_by_exercise_and_track_and_says_when_nothing_matches(capsys, attempts):
    code, out, _ = lab(capsys, "export", "--learner", "ana", "--exercise", "other/x")
    assert code == 0 and [json.loads(x)["exercise"] for x in out.splitlines()] == ["other/x"]
    code, out, _ = lab(capsys, "export", "--learner", "ana", "--track", "basics")
    assert [json.loads(x)["exercise"] for x in out.splitlines()] == ["t/greet", "t/greet"]
    code, out, err = lab(capsys, "export", "--learner", "ana", "--exercise", "nope")
    assert code == 2 and err == "lab: No attempts recorded for exercise nope: check the id with `lab progress`, or run it first.\n"


def test_nothing_recorded_yet(capsys):
    code, _, err = lab(capsys, "export", "--learner", "ana")
    assert code == 2 and err == "lab: No attempts recorded yet: run an exercise first (`lab run ID` or in the lab), then export.\n"


def test_export_to_a_file_reads_back_and_picks(capsys, attempts, tmp_path: Path):
    target = tmp_path / "ana.jsonl"
    code, out, err = lab(capsys, "export", "--learner", "ana", "-o", str(target))
    assert code == 0 and out == "" and err == f"3 attempt(s) of ana written to {target}\n"
    read = read_submissions([tmp_path])
    assert read.problems == [] and len(read.submissions) == 3
    last = pick(read.submissions, "last")[("ana", "t/greet")]
    assert last.prompt == "Say hello briefly."
    assert last.where == f"{target}:2"


def test_export_to_an_unwritable_place(capsys, attempts, tmp_path: Path):
    code, _, err = lab(capsys, "export", "--learner", "ana", "-o", str(tmp_path / "no" / "such" / "f.jsonl"))
    assert code == 2 and err.startswith(f"lab: Cannot write {tmp_path / 'no' / 'such' / 'f.jsonl'}: No such file or directory;")
