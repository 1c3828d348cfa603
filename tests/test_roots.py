"""Exercise roots: --exercises, LAB_EXERCISES, the user's folder and the bundled curriculum, in that order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.format.loader import exercise_roots, load_catalog
from lab.models import llm
from lab.practice.attempts import run_attempt
from lab.practice.store import Store
from lab.settings import paths


def titled(title: str, **extra: object) -> dict:
    return minimal(title=title, **extra)


def test_roots_in_priority_order(tmp_path: Path, lab_home: Path, monkeypatch: pytest.MonkeyPatch):
    first, second, env_a, env_b = (tmp_path / n for n in ("first", "second", "env-a", "env-b"))
    for folder in (first, second, env_a, env_b, lab_home / "exercises"):
        folder.mkdir()
    monkeypatch.setenv("LAB_EXERCISES", os.pathsep.join([str(env_a), "", str(env_b)]))
    assert exercise_roots([first, second]) == [
        first.resolve(), second.resolve(), env_a.resolve(), env_b.resolve(), (lab_home / "exercises").resolve(),
        paths.bundled_exercises_dir().resolve(),
    ]


def test_user_folder_is_skipped_until_it_exists(lab_home: Path):
    assert exercise_roots() == [paths.bundled_exercises_dir().resolve()]


def test_a_root_named_twice_is_searched_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_EXERCISES", str(tmp_path))
    assert exercise_roots([tmp_path, tmp_path / "." ]).count(tmp_path.resolve()) == 1


def test_every_kind_of_root_contributes(tmp_path: Path, lab_home: Path, monkeypatch: pytest.MonkeyPatch):
    write_exercise(tmp_path / "cli", "t/from-cli.j2", titled("From --exercises"))
    write_exercise(tmp_path / "env", "t/from-env.j2", titled("From LAB_EXERCISES"))
    write_exercise(lab_home / "exercises", "t/from-home.j2", titled("From the user folder"))
    monkeypatch.setenv("LAB_EXERCISES", str(tmp_path / "env"))
    catalog = load_catalog([tmp_path / "cli"])
    ids = {e.id for e in catalog.exercises}
    assert {"t/from-cli", "t/from-env", "t/from-home", "prompt-engineering/delimiters"} <= ids
    assert catalog.problems == []


def test_earlier_root_wins_a_duplicate_id_and_the_other_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mine = write_exercise(tmp_path / "mine", "prompt-engineering/delimiters.j2", titled("My own delimiters"))
    theirs = write_exercise(tmp_path / "theirs", "prompt-engineering/delimiters.j2", titled("Their delimiters"))
    monkeypatch.setenv("LAB_EXERCISES", str(tmp_path / "theirs"))
    catalog = load_catalog([tmp_path / "mine"])
    assert catalog.get("prompt-engineering/delimiters").title == "My own delimiters"
    duplicates = [p for p in catalog.problems if "is claimed by" in p.message]
    bundled = paths.bundled_exercises_dir().resolve() / "prompt-engineering" / "delimiters.j2"
    assert [(p.path, p.message) for p in duplicates] == [
        (theirs.resolve(), f"id 'prompt-engineering/delimiters' is claimed by 3 files: {mine.resolve()} (used), "
                           f"{theirs.resolve()} (ignored), {bundled} (ignored)"),
    ]
    assert duplicates[0].fix.startswith("give all but one another `id:` or file name")


def test_validating_a_folder_names_every_file_that_claims_an_id(tmp_path: Path, capsys):
    """`lab validate DIR` once said "0 problem(s)" while `lab list` ignored one of two files with one id."""
    root = tmp_path / "mine"
    first = write_exercise(root, "t/a.j2", titled("A", id="t/same"))
    second = write_exercise(root, "t/b.j2", titled("B", id="t/same"))
    mine = write_exercise(root, "prompt-engineering/delimiters.j2", titled("My own delimiters"))
    bundled = paths.bundled_exercises_dir().resolve() / "prompt-engineering" / "delimiters.j2"
    for argv in (["validate", str(root), "--exercises", str(root)], ["validate", "--exercises", str(root)]):
        code = main(argv)
        out = capsys.readouterr().out
        assert code == 2
        assert f"id 't/same' is claimed by 2 files: {first.resolve()} (used), {second.resolve()} (ignored)" in out
        assert f"id 'prompt-engineering/delimiters' is claimed by 2 files: {mine.resolve()} (used), {bundled} (ignored)" in out
    main(["list", "--exercises", str(root)])
    err = capsys.readouterr().err
    assert "`lab validate` lists every problem" in err


def test_missing_root_is_a_problem_not_a_crash(tmp_path: Path):
    catalog = load_catalog([tmp_path / "nope"])
    assert [(p.path, p.message) for p in catalog.problems] == [((tmp_path / "nope").resolve(), "exercise folder not found")]
    assert catalog.exercises  # the bundled curriculum still loads


def test_default_id_and_track_come_from_the_path(tmp_path: Path):
    write_exercise(tmp_path, "writing/emails/reply.j2", titled("Nested"))
    write_exercise(tmp_path, "loose.j2", titled("At the root"))
    write_exercise(tmp_path, "writing/_partial.j2", titled("A partial is never listed"))
    write_exercise(tmp_path, ".drafts/hidden.j2", titled("Hidden folders are skipped"))
    write_exercise(tmp_path, "writing/explicit.j2", titled("Explicit", id="custom/name", track="style"))
    catalog = load_catalog([tmp_path])
    mine = {e.id: e.track for e in catalog.exercises if e.root == tmp_path.resolve()}
    assert mine == {"writing/emails/reply": "writing", "loose": "general", "custom/name": "style"}


def test_unknown_id_suggests_close_ones(tmp_path: Path):
    from lab.errors import LabError

    write_exercise(tmp_path, "zz-course/quokka-facts.j2", titled("Quokkas"))
    with pytest.raises(LabError) as caught:
        load_catalog([tmp_path]).get("zz-course/quoka-facts")
    assert str(caught.value) == "No exercise 'zz-course/quoka-facts'. Did you mean zz-course/quokka-facts?"
    with pytest.raises(LabError) as caught:
        load_catalog().get("zzz")
    assert str(caught.value) == "No exercise 'zzz'. `lab list` shows them all."


def test_broken_exercise_asked_for_by_id_says_why(tmp_path: Path):
    from lab.errors import LabError

    write_exercise(tmp_path, "t/broken.j2", titled("Broken", level=0))
    with pytest.raises(LabError) as caught:
        load_catalog([tmp_path]).get("t/broken")
    assert str(caught.value).startswith("Exercise 't/broken' could not be loaded:\n")
    assert "'level': Input should be greater than or equal to 1" in str(caught.value)


# ------------------------------------------------------------------ someone else's exercise, end to end

THEIR_EXERCISE = {
    "format": 1,
    "id": "acme/greetings",
    "title": "Greet a customer by name",
    "track": "acme",
    "level": 1,
    "skills": ["tone"],
    "lang": "en-GB",
    "writes": "prompt",
    "model": {"temperature": 0, "max_tokens": 50},
    "vars": {"company": "Acme"},
    "cases": [{"name": "ana", "vars": {"customer": "Ana"}}, {"name": "bo", "vars": {"customer": "Bo"}}],
    "rubric": {"pass": 0.75, "criteria": [
        {"id": "names-them", "check": "contains", "value": "{{ customer }}", "weight": 2, "feedback": "Use the customer's name."},
        {"id": "brand", "check": "contains", "value": "{{ company }}"},
        {"id": "short", "check": "max-words", "value": 12},
    ]},
    "examples": [
        {"attempt": "Say: Hello {{ customer }}, welcome to {{ company }}.",
         "outputs": {"ana": "Hello Ana, welcome to Acme.", "bo": "Hello Bo, welcome to Acme."}, "expect": "pass"},
        {"attempt": "Say hello.", "outputs": {"ana": "Hello!", "bo": "Hello!"}, "expect": "fail"},
    ],
}
THEIR_TEMPLATE = "{% block brief %}Greet the customer of {{ company }} by name.{% endblock %}\n"


def test_someone_elses_exercise_in_their_own_folder_loads_runs_and_grades(tmp_path: Path, cassette, api_base):
    write_exercise(tmp_path / "acme-course", "greetings.j2", THEIR_EXERCISE, THEIR_TEMPLATE)
    exercise = load_catalog([tmp_path / "acme-course"]).get("acme/greetings")
    assert (exercise.track, exercise.lang, exercise.skills) == ("acme", "en-GB", ("tone",))
    with Store() as store:
        # the echo model repeats the prompt, so the learner's text decides the grade
        outcome = run_attempt(exercise, "Hello {{ customer }}, welcome to {{ company }}.",
                              config=llm.CallConfig("openai/echo", api_base, max_retries=0, backoff=0), store=store)
        assert outcome.outputs == {"ana": ["Hello Ana, welcome to Acme."], "bo": ["Hello Bo, welcome to Acme."]}
        assert outcome.grade.passed and outcome.grade.score == 1.0
        record = store.attempt(outcome.attempt_id)
    assert (record.exercise_id, record.status, record.passed) == ("acme/greetings", "graded", True)
    sent = [request.body for request in cassette.requests]
    assert all(b'"max_tokens":50' in body.replace(b" ", b"") for body in sent)  # the exercise's call settings
