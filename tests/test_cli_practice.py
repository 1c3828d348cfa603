"""Practising from the command line: each case's input, short ids, hints recorded like the TUI's,
the solution only after a pass, an exercise's history and `lab attempt last`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.practice.store import Store

EXERCISE = minimal(
    id="basics/greet", title="Greet", track="basics", vars={"_expected": "hello", "tone": "warm"},
    cases=[{"name": "ana", "vars": {"name": "Ana"}}, {"name": "bo", "vars": {"name": "Bo", "_secret": "XYZZY"}}],
    hints=["Say hello.", "Use {{ name }}."],
)
TEMPLATE = ("{% block brief %}Greet someone.{% endblock %}\n"
            "{% block user %}{{ attempt }}\n\nReply to {{ name }}.{% endblock %}\n"
            "{% block solution %}Say hello to {{ name }}.{% endblock %}\n")
SYSTEM = minimal(id="other/greet", title="Greet as a system", track="other", writes="system",
                 cases=[{"name": "only", "vars": {"input": "Hi there"}}])
SYSTEM_TEMPLATE = "{% block brief %}Be a greeter.{% endblock %}\n{% block user %}{{ input }}{% endblock %}\n"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "basics/greet.j2", EXERCISE, TEMPLATE)
    write_exercise(root, "basics/wave.j2", minimal(id="basics/wave", title="Wave", track="basics"))
    return root


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def record_attempt(exercise_id: str, *, score: float, passed: bool, status: str = "graded") -> int:
    with Store() as store:
        attempt_id = store.begin_attempt(exercise_id=exercise_id, exercise_hash="h", track="basics", model="openai/echo",
                                         api_base=None, prompt="Say hello.")
        store.finish_attempt(attempt_id, status=status, score=score, passed=passed)
    return attempt_id


# ------------------------------------------------------------------ show


def test_show_prints_each_cases_input_but_not_the_rubrics_vars(capsys, course: Path):
    code, out, _ = lab(capsys, "show", "basics/greet", "--exercises", str(course))
    assert code == 0
    assert "## Case: ana\n\nname: Ana\n\n[user]\n«your prompt»\n\nReply to Ana.\n" in out
    assert "## Case: bo\n\nname: Bo\n" in out and "Reply to Bo." in out
    assert "XYZZY" not in out and "_expected" not in out


def test_show_json_has_the_inputs(capsys, course: Path):
    code, out, _ = lab(capsys, "show", "basics/greet", "--json", "--exercises", str(course))
    inputs = json.loads(out)["inputs"]
    assert code == 0
    # each case's messages too: the user block holds the learner's prompt ("text": "prompt")
    message = {"role": "user", "author": "exercise", "text": "prompt"}
    assert inputs == [{"case": "ana", "vars": {"name": "Ana"}, "system": None, "user": "«your prompt»\n\nReply to Ana.",
                       "messages": [{**message, "content": "«your prompt»\n\nReply to Ana."}]},
                      {"case": "bo", "vars": {"name": "Bo"}, "system": None, "user": "«your prompt»\n\nReply to Bo.",
                       "messages": [{**message, "content": "«your prompt»\n\nReply to Bo."}]}]


def test_show_of_a_system_exercise_prints_the_user_message_of_each_case(capsys, tmp_path: Path):
    root = tmp_path / "sys"
    write_exercise(root, "other/greet.j2", SYSTEM, SYSTEM_TEMPLATE)
    code, out, _ = lab(capsys, "show", "other/greet", "--exercises", str(root))
    assert code == 0
    assert "you write the system prompt" in out and "## Case: only\n\ninput: Hi there\n\n[user]\nHi there\n" in out


def test_a_short_id_resolves_when_it_names_one_exercise(capsys, course: Path):
    code, out, _ = lab(capsys, "show", "wave", "--exercises", str(course))
    assert code == 0 and out.startswith("# Wave\n\nbasics/wave ·")
    code, out, _ = lab(capsys, "show", "delimiters")
    assert code == 0 and "prompt-engineering/delimiters ·" in out


def test_an_ambiguous_short_id_lists_the_candidates(capsys, course: Path, tmp_path: Path):
    other = tmp_path / "other"
    write_exercise(other, "other/greet.j2", SYSTEM, SYSTEM_TEMPLATE)
    code, out, err = lab(capsys, "show", "greet", "--exercises", str(course), "--exercises", str(other))
    assert (code, out) == (2, "")
    assert err == "lab: 'greet' names 2 exercises (basics/greet, other/greet): give the full id.\n"


# ------------------------------------------------------------------ hint


def test_hint_reveals_the_next_one_and_records_it_where_the_tui_reads_it(capsys, course: Path):
    code, out, _ = lab(capsys, "hint", "greet", "--exercises", str(course))
    assert code == 0
    assert out == "Hint 1/2: Say hello.\n1 of 2 hint(s) revealed; `lab hint basics/greet` shows the next.\n"
    with Store() as store:
        assert store.hints_revealed("basics/greet") == 1
    code, out, _ = lab(capsys, "hint", "greet", "--exercises", str(course))
    assert out.startswith("Hint 2/2: Use {{ name }}.\n2 of 2 hint(s) revealed.")
    code, out, _ = lab(capsys, "hint", "greet", "--exercises", str(course))  # none left: the last is shown again
    assert code == 0 and out.startswith("Hint 2/2:")
    with Store() as store:
        assert store.hints_revealed("basics/greet") == 2


def test_hint_n_reveals_up_to_n_and_json(capsys, course: Path):
    code, out, _ = lab(capsys, "hint", "basics/greet", "2", "--json", "--exercises", str(course))
    assert code == 0
    assert json.loads(out) == {"exercise": "basics/greet", "revealed": 2, "total": 2, "hints": ["Say hello.", "Use {{ name }}."]}
    code, out, _ = lab(capsys, "hint", "basics/greet", "1", "--exercises", str(course))  # an earlier one: nothing hidden again
    assert out.startswith("Hint 1/2: Say hello.\n2 of 2")


def test_hint_out_of_range_and_an_exercise_without_hints(capsys, course: Path):
    code, _, err = lab(capsys, "hint", "basics/greet", "3", "--exercises", str(course))
    assert (code, err) == (2, "lab: basics/greet has 2 hint(s): ask for a number from 1 to 2.\n")
    code, _, err = lab(capsys, "hint", "basics/wave", "--exercises", str(course))
    assert (code, err) == (2, "lab: basics/wave has no hints.\n")
    with Store() as store:
        assert store.hints_revealed("basics/greet") == 0


# ------------------------------------------------------------------ solution


def test_solution_only_after_a_pass(capsys, course: Path):
    code, out, err = lab(capsys, "solution", "greet", "--exercises", str(course))
    assert (code, out) == (1, "")
    assert err == "lab: The solution of basics/greet opens once you pass it: pass mark 1.00.\n"
    record_attempt("basics/greet", score=0.5, passed=False)
    code, _, err = lab(capsys, "solution", "greet", "--exercises", str(course))
    assert code == 1 and err.endswith("pass mark 1.00 (best so far 0.50).\n")
    record_attempt("basics/greet", score=1.0, passed=True)
    code, out, _ = lab(capsys, "solution", "greet", "--exercises", str(course))
    assert (code, out) == (0, "Say hello to Ana.\n")


def test_solution_of_an_exercise_without_one(capsys, course: Path):
    record_attempt("basics/wave", score=1.0, passed=True)
    code, _, err = lab(capsys, "solution", "wave", "--exercises", str(course))
    assert (code, err) == (2, "lab: basics/wave has no model solution.\n")


# ------------------------------------------------------------------ history and attempt last


def test_history_lists_the_attempts_newest_first(capsys, course: Path):
    code, out, _ = lab(capsys, "history", "greet", "--exercises", str(course))
    assert (code, out) == (0, "No attempts at basics/greet yet.\n")
    first = record_attempt("basics/greet", score=0.5, passed=False)
    second = record_attempt("basics/greet", score=1.0, passed=True)
    record_attempt("basics/wave", score=1.0, passed=True)
    code, out, _ = lab(capsys, "history", "greet", "--exercises", str(course))
    header, _rule, *rows = out.splitlines()
    assert code == 0 and header.split() == ["ID", "TIME", "STATUS", "SCORE", "MODEL"]
    assert [r.split()[0] for r in rows] == [f"#{second}", f"#{first}"]
    assert "graded · passed  1.00" in rows[0] and rows[0].endswith("openai/echo")
    code, out, _ = lab(capsys, "history", "greet", "--json", "--exercises", str(course))
    data = json.loads(out)
    assert [(d["id"], d["status"], d["score"], d["passed"], d["model"]) for d in data] == [
        (second, "graded", 1.0, True, "openai/echo"), (first, "graded", 0.5, False, "openai/echo")]


def test_attempt_last_and_bad_references(capsys):
    code, _, err = lab(capsys, "attempt", "last")
    assert (code, err) == (2, "lab: No attempts yet: `lab run ID --prompt ...` records one.\n")
    record_attempt("basics/greet", score=0.5, passed=False)
    newest = record_attempt("basics/wave", score=1.0, passed=True)
    code, out, _ = lab(capsys, "attempt", "last", "--json")
    assert code == 0 and json.loads(out)["id"] == newest
    code, _, err = lab(capsys, "attempt", "first")
    assert (code, err) == (2, "lab: 'first' is not an attempt: give its number (as `lab run` prints it) or `last`.\n")
