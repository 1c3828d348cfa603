"""The `lab` command, called in-process (and once as a real process): output, JSON shapes and exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main

BROKEN = Path(__file__).resolve().parent / "broken"
LAB = Path(sys.executable).with_name("lab")

GREETING = minimal(
    id="t/greet", title="Say hello briefly", track="basics", level=2, skills=["clarity", "brevity"], lang="en",
    vars={"name": "Ana"},
    cases=[{"name": "only"}],
    rubric={"pass": 1.0, "criteria": [
        {"id": "says-hello", "check": "icontains", "value": "hello", "feedback": "Greet them."},
        {"id": "short", "check": "max-words", "value": 5, "weight": 2},
    ]},
    hints=["Keep it short."],
    examples=[{"attempt": "Say hello to {{ name }}.", "outputs": {"only": "Hello Ana!"}, "expect": "pass"},
              {"attempt": "Talk.", "outputs": {"only": "Well, it is a long story that I will now tell."}, "expect": "fail"}],
)
BRIEF = "{% block brief %}Greet {{ name }} in at most five words.{% endblock %}\n{% block starter %}Say hi.{% endblock %}\n"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "basics/greet.j2", GREETING, BRIEF)
    return root


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_args(course: Path, api_base: str, *extra: str, model: str = "openai/echo") -> list[str]:
    return ["run", "t/greet", "--exercises", str(course), "--model", model, "--api-base", api_base, *extra]


# ------------------------------------------------------------------ list / show


def test_list_text(capsys, course: Path):
    code, out, err = lab(capsys, "list", "--exercises", str(course))
    assert code == 0
    header, rule, *rows = out.splitlines()
    assert header.split() == ["ID", "LVL", "TITLE", "SKILLS", "STATUS", "BEST"]
    # grouped by track, each exercise under the short id `lab show` takes
    at = rows.index("basics (1)")
    assert rows[at + 1].split()[:2] == ["greet", "2"] and "clarity, brevity" in rows[at + 1] and rows[at + 1].rstrip().endswith("new")


def test_list_fits_an_80_column_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = lab(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and max(map(len, lines)) <= 80
    assert lines[0].split() == ["ID", "LVL", "TITLE", "STATUS", "BEST"]  # skills cut to a stub would say nothing
    assert "  clear-instructions         1    Spell out every detail the answ…  new" in lines
    assert any(line.startswith("  modele-catalogue ") and " fr · " in line for line in lines)
    monkeypatch.setenv("COLUMNS", "120")
    wide = lab(capsys, "list")[1].splitlines()
    assert max(map(len, wide)) <= 120 and wide[0].split() == ["ID", "LVL", "TITLE", "SKILLS", "STATUS", "BEST"]


def test_list_into_a_pipe_keeps_every_column_whole(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, err = lab(capsys, "list")
    assert code == 0, err
    assert "Spell out every detail the answer needs" in out and "…" not in out


def test_list_json_fields(capsys, course: Path):
    code, out, _ = lab(capsys, "list", "--json", "--exercises", str(course), "--track", "basics")
    assert code == 0
    rows = json.loads(out)
    assert rows == [{"id": "t/greet", "title": "Say hello briefly", "track": "basics", "level": 2, "skills": ["clarity", "brevity"],
                     "lang": "en", "status": "new", "best_score": None, "attempts": 0, "offline": False}]


def test_list_unknown_track(capsys, course: Path):
    code, out, err = lab(capsys, "list", "--track", "nope", "--exercises", str(course))
    assert code == 2
    assert err.startswith("lab: No track 'nope'. Tracks: ") and ", basics, " in err and err.endswith(".\n")


def test_list_warns_about_broken_files_on_stderr(capsys):
    # a listing checks the files of one's own folders it has not seen checked: every broken one is counted at
    # once (none listed as a new exercise), as `lab validate` and the lab count them
    broken = len(list(BROKEN.glob('[!_]*.j2')))
    code, out, err = lab(capsys, "list", "--exercises", str(BROKEN))
    assert code == 0 and "\nprompt-engineering (" in out
    assert err.startswith(f"lab: {broken} exercise file(s) could not be loaded; `lab validate` lists every problem.\n  first: ")
    assert "\nbroken (" not in out and "general (" not in out
    assert lab(capsys, "validate", "--exercises", str(BROKEN), str(BROKEN))[0] == 2
    code, out, err = lab(capsys, "list", "--exercises", str(BROKEN))
    assert err.startswith(f"lab: {broken} exercise file(s) could not be loaded; `lab validate` lists every problem.\n  first: ")


def test_show_prints_the_rendered_brief(capsys, course: Path):
    code, out, _ = lab(capsys, "show", "t/greet", "--exercises", str(course))
    assert code == 0
    assert out.startswith("# Say hello briefly\n\nt/greet · basics · level 2 · you write the prompt\n\nGreet Ana in at most five words.\n")
    assert "Cases: only · pass mark 1.00 · 1 hint(s)" in out


def test_show_json(capsys, course: Path):
    code, out, _ = lab(capsys, "--exercises", str(course), "show", "t/greet", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["brief"], data["starter"], data["writes"], data["cases"]) == ("Greet Ana in at most five words.", "Say hi.", "prompt", ["only"])


def test_show_unknown_exercise(capsys):
    code, out, err = lab(capsys, "show", "nope/nothing")
    assert (code, out, err) == (2, "", "lab: No exercise 'nope/nothing'. `lab list` shows them all.\n")


# ------------------------------------------------------------------ run


def test_run_streams_then_grades_and_exits_0_when_passed(capsys, course: Path, cassette, api_base):
    code, out, err = lab(capsys, *run_args(course, api_base, "--prompt", "Hello {{ name }}!"))
    assert code == 0, err
    lines = out.splitlines()
    # the estimate comes before anything is sent; the spend after the grade
    assert lines[:3] == ["Estimate: 1 call (1 case × 1 sample) · ~7 prompt tokens · price unknown for openai/echo", "── only ──", "Hello Ana!"]
    assert lines[-1] == "Spent: $0.0000 this session · $0.0000 today"
    assert any(line.startswith(" ✓ says-hello") for line in lines)
    assert "Score 1.00 (pass mark 1.00): PASSED" in lines
    [usage] = [line for line in lines if line.startswith("2 prompt + 2 completion tokens · $0.0000 · ")]
    assert usage.endswith("attempt #1")


def test_run_exits_1_when_not_passed_and_shows_feedback(capsys, course: Path, cassette, api_base):
    code, out, _ = lab(capsys, *run_args(course, api_base, "--prompt", "Goodbye, see you"))
    assert code == 1
    assert " ✗ says-hello" in out and "→ Greet them." in out
    assert "NOT PASSED" in out


def test_run_json_shape_with_the_stream_on_stderr(capsys, course: Path, cassette, api_base):
    code, out, err = lab(capsys, *run_args(course, api_base, "--prompt", "Hello {{ name }}!", "--json"))
    assert code == 0
    assert err == ("Estimate: 1 call (1 case × 1 sample) · ~7 prompt tokens · price unknown for openai/echo\n"
                   "── only ──\nHello Ana!\nSpent: $0.0000 this session · $0.0000 today\n")
    data = json.loads(out)
    assert {"exercise", "model", "passed", "score", "criteria", "cases", "usage", "attempt_id"} <= set(data)
    assert (data["exercise"], data["model"], data["passed"], data["score"], data["attempt_id"]) == ("t/greet", "openai/echo", True, 1.0, 1)
    assert [c["id"] for c in data["criteria"]] == ["says-hello", "short"]
    for criterion in data["criteria"]:
        assert {"id", "check", "weight", "score", "passed", "reason"} <= set(criterion)
    assert (data["criteria"][1]["check"], data["criteria"][1]["weight"]) == ("max-words", 2)
    [case] = data["cases"]
    assert (case["name"], case["outputs"]) == ("only", ["Hello Ana!"])
    assert [c["id"] for c in case["criteria"]] == ["says-hello", "short"]
    assert data["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "cost_usd": 0.0}
    assert data["estimate"] == {"calls": 1, "judge_calls": 0, "prompt_tokens": 7, "cost_usd": None}  # openai/echo has no price
    assert data["spent"] == {"session_usd": 0.0, "today_usd": 0.0, "max_cost": None}


def test_an_answer_cut_off_at_max_tokens_is_named_in_text_and_json(capsys, tmp_path: Path, cassette, api_base):
    root = tmp_path / "course"
    write_exercise(root, "basics/greet.j2", {**GREETING, "model": {"max_tokens": 3}}, BRIEF)
    code, out, _ = lab(capsys, *run_args(root, api_base, "--prompt", "Hello Ana, how are you today?"))
    assert code == 0  # it passes even cut ("Hello Ana, how"), and is still named as cut
    assert ("The answer was cut off for case 'only': the model stopped at max_tokens: 3, set by the exercise. "
            "A criterion it fails may only lack room; ask for a shorter answer.") in out
    code, out, _ = lab(capsys, *run_args(root, api_base, "--prompt", "Hello Ana, how are you today?", "--json"))
    [case] = json.loads(out)["cases"]
    assert (case["outputs"], case["finish_reasons"]) == (["Hello Ana, how"], ["length"])
    code, out, _ = lab(capsys, *run_args(root, api_base, "--prompt", "Hello!", "--json"))
    assert json.loads(out)["cases"][0]["finish_reasons"] == ["stop"]


def test_run_reads_the_prompt_from_a_file(capsys, course: Path, tmp_path: Path, cassette, api_base):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Hello from a file", encoding="utf-8")
    code, out, _ = lab(capsys, *run_args(course, api_base, "--prompt-file", str(prompt)))
    assert code == 0 and out.split("\n", 1)[1].startswith("── only ──\nHello from a file\n")


def test_run_reads_the_prompt_from_stdin(capsys, course: Path, monkeypatch: pytest.MonkeyPatch, cassette, api_base):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello from stdin\n"))
    code, out, _ = lab(capsys, *run_args(course, api_base, "--prompt-file", "-"))
    assert code == 0 and out.split("\n", 1)[1].startswith("── only ──\nHello from stdin\n")


def test_run_missing_prompt_file(capsys, course: Path, tmp_path: Path):
    code, _, err = lab(capsys, *run_args(course, "http://127.0.0.1:9/v1", "--prompt-file", str(tmp_path / "nope.txt")))
    assert (code, err) == (2, f"lab: Cannot read {tmp_path / 'nope.txt'}: No such file or directory.\n")


def test_run_empty_prompt_is_bad_input(capsys, course: Path):
    code, out, err = lab(capsys, *run_args(course, "http://127.0.0.1:9/v1", "--prompt", "  "))
    assert (code, out, err) == (2, "", "lab: Your prompt is empty: write one before sending.\n")


def test_run_unknown_name_in_prompt_is_bad_input(capsys, course: Path):
    code, _, err = lab(capsys, *run_args(course, "http://127.0.0.1:9/v1", "--prompt", "Hi {{ nmae }}"))
    assert (code, err) == (2, "lab: Your text uses {{ nmae }}, which is not defined for case 'only'. Names you can use: name.\n")


def test_run_without_a_model_exits_2_with_the_hint(capsys, course: Path):
    code, out, err = lab(capsys, "run", "t/greet", "--exercises", str(course), "--prompt", "Hello")
    assert code == 2 and out == ""
    assert err == ("lab: No model chosen: pass --model (e.g. --model openai/gpt-4o-mini, or --model openai/NAME "
                   "--api-base http://127.0.0.1:11434/v1 for a local server, or --model local/smollm2 for the built-in offline "
                   "model after `lab local fetch`), set LAB_MODEL, or pick one in the lab.\n")


def test_run_model_from_lab_model_and_hosted_model_without_key(capsys, course: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_MODEL", "openai/gpt-4o-mini")
    code, out, err = lab(capsys, "run", "t/greet", "--exercises", str(course), "--prompt", "Hello")
    assert code == 2
    assert err == "lab: No API key for openai/gpt-4o-mini: set OPENAI_API_KEY in your environment (keys are never stored).\n"


def test_run_model_error_exits_2_and_json_reports_it(capsys, course: Path, no_retries, cassette, api_base):
    code, out, err = lab(capsys, *run_args(course, api_base, "--prompt", "Hello", "--json", model="openai/fail-500"))
    assert code == 2
    message = f"{api_base} had an internal error (500) and retries did not help; try again later."
    assert json.loads(out) == {"exercise": "t/greet", "model": "openai/fail-500", "error": message, "kind": "server", "attempt_id": 1}
    assert err.splitlines()[1:] == [f"lab: {message}", "Spent: $0.0000 this session · $0.0000 today"]


def test_run_samples_out_of_range(capsys, course: Path):
    code, _, err = lab(capsys, *run_args(course, "http://127.0.0.1:9/v1", "--prompt", "x", "--samples", "0"))
    assert (code, err) == (2, "lab: --samples must be between 1 and 20.\n")


# ------------------------------------------------------------------ validate / check


def test_validate_clean(capsys, course: Path):
    code, out, _ = lab(capsys, "validate", str(course))
    assert (code, out) == (0, "1 of 1 exercise file(s) valid; 0 problem(s).\n")


def test_validate_broken_lists_every_problem_and_exits_2(capsys):
    code, out, err = lab(capsys, "validate", str(BROKEN))
    assert code == 2
    assert f"{(BROKEN / 'unknown_key.j2').resolve()}:5: unknown key 'skils' (did you mean 'skills'?)\n  fix: " in out
    files = len(list(BROKEN.glob("[!_]*.j2")))
    assert err == f"0 of {files} exercise file(s) valid; {files} problem(s).\n"


def test_validate_json(capsys):
    code, out, _ = lab(capsys, "validate", "--json", str(BROKEN / "bad_regex.j2"))
    assert code == 2
    assert json.loads(out) == {"exercises": 0, "problems": [{
        "path": str((BROKEN / "bad_regex.j2").resolve()), "line": 10,
        "message": "criterion 'lower': parameter 'pattern' is not a valid regular expression: missing ), unterminated subpattern at position 0",
        "fix": "see 'regex' in docs/graders.md"}]}


def test_validate_missing_path(capsys, tmp_path: Path):
    code, out, _ = lab(capsys, "validate", str(tmp_path / "nope"))
    assert code == 2 and out.startswith(f"{tmp_path / 'nope'}: no such file or folder\n  fix: check the path")


def test_check_clean_exits_0(capsys, course: Path):
    code, out, _ = lab(capsys, "check", str(course))
    # each example with its score, and what cost the failing one its points (the rule too: an author's view)
    assert (code, out) == (0, "ok t/greet example 1: expected pass, graded pass (score 1.00)\n"
                              "ok t/greet example 2: expected fail, graded fail (score 0.30)\n"
                              "    says-hello (0.00 ×1): The output does not contain “hello”, even ignoring case.\n"
                              "    short (0.45 ×2): The output has 11 words; at most 5 are allowed.\n"
                              "1 exercise(s), 2 example(s): 0 contradict their expectation.\n")


def test_check_contradiction_exits_1(capsys, tmp_path: Path):
    wrong = {**GREETING, "examples": [{"attempt": "Hi", "outputs": {"only": "Goodbye"}, "expect": "pass"},
                                      {"attempt": "Talk", "outputs": {"only": "a b c d e f g"}, "expect": "fail"}]}
    write_exercise(tmp_path, "basics/greet.j2", wrong, BRIEF)
    code, out, _ = lab(capsys, "check", str(tmp_path))
    assert code == 1
    assert out.splitlines()[0] == "CONTRADICTS t/greet example 1: expected pass, graded fail (score 0.67)"
    assert "    says-hello (0.00 ×1): The output does not contain “hello”, even ignoring case." in out
    assert out.rstrip().endswith("1 exercise(s), 2 example(s): 1 contradict their expectation.")


def test_check_json_and_coverage_warning(capsys, tmp_path: Path):
    write_exercise(tmp_path, "basics/greet.j2", {**GREETING, "examples": GREETING["examples"][:1]}, BRIEF)
    code, out, _ = lab(capsys, "check", "--json", str(tmp_path))
    data = json.loads(out)
    assert code == 0 and data["contradictions"] == 0 and data["problems"] == []
    assert data["exercises"][0]["warnings"] == ["has no example expected to fail"]
    assert data["exercises"][0]["examples"] == [{"index": 0, "expect": "pass", "verdict": "pass", "score": 1.0, "needs_model": False, "ungraded": []}]


def test_check_with_broken_files_exits_2(capsys):
    code, out, _ = lab(capsys, "check", str(BROKEN / "duplicate_cases.j2"))
    assert code == 2 and "case name 'polite' is used twice" in out


def test_bundled_curriculum_checks_clean(capsys):
    code, out, _ = lab(capsys, "check")
    assert code == 0, out


# ------------------------------------------------------------------ progress


def test_progress_json_after_a_run(capsys, course: Path, cassette, api_base):
    assert lab(capsys, *run_args(course, api_base, "--prompt", "Hello there"))[0] == 0
    code, out, _ = lab(capsys, "progress", "--json", "--exercises", str(course))
    assert code == 0
    basics = next(t for t in json.loads(out)["tracks"] if t["track"] == "basics")
    assert basics == {"track": "basics", "exercises": 1, "passed": 1, "attempts": 1, "exercises_list": [
        {"id": "t/greet", "title": "Say hello briefly", "level": 2, "attempts": 1, "best_score": 1.0, "passed": True}]}
    code, out, _ = lab(capsys, "list", "--json", "--exercises", str(course), "--track", "basics")
    [row] = json.loads(out)
    assert (row["status"], row["best_score"], row["attempts"]) == ("passed", 1.0, 1)
    code, out, _ = lab(capsys, "progress", "--exercises", str(course))
    assert "basics  ████████████████████  1/1 passed · 1 attempt(s)" in out


# ------------------------------------------------------------------ every command takes --exercises


@pytest.mark.parametrize("argv", [["list"], ["show", "t/greet"], ["validate"], ["check"], ["progress"]])
@pytest.mark.parametrize("where", ["before", "after"])
def test_exercises_option_on_every_command(capsys, course: Path, argv: list[str], where: str):
    option = ["--exercises", str(course)]
    code, out, err = lab(capsys, *(option + argv if where == "before" else argv + option))
    assert code == 0, err
    if argv[0] in ("list", "show", "progress"):
        assert "t/greet" in out or "Say hello briefly" in out or "basics" in out


def test_exercises_before_and_after_the_command_both_count(capsys, course: Path, tmp_path: Path):
    other = tmp_path / "other"
    write_exercise(other, "x/second.j2", minimal(title="Second course"))
    code, out, _ = lab(capsys, "--exercises", str(course), "list", "--json", "--exercises", str(other))
    assert {"t/greet", "x/second"} <= {row["id"] for row in json.loads(out)}


def test_run_takes_exercises_too(capsys, course: Path):
    code, _, err = lab(capsys, "run", "t/greet", "--prompt", "x")
    assert code == 2 and err == "lab: No exercise 't/greet'. `lab list` shows them all.\n"


# ------------------------------------------------------------------ a real process


def test_real_lab_process(tmp_path: Path, course: Path, lab_home: Path):
    env = {**os.environ, "LAB_HOME": str(lab_home), "NO_COLOR": "1"}
    done = subprocess.run([str(LAB), "validate", str(BROKEN / "wrong_format.j2")], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert done.stdout.startswith(f"{(BROKEN / 'wrong_format.j2').resolve()}:2: unknown format version 2: this Prompt Lab reads `format: 1`")
    listed = subprocess.run([sys.executable, "-m", "lab", "list", "--json", "--exercises", str(course)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0 and "t/greet" in {row["id"] for row in json.loads(listed.stdout)}


def test_run_streams_every_case_and_sample_in_order(capsys, tmp_path: Path, cassette, api_base):
    two = minimal(id="t/two", cases=[{"name": "a", "vars": {"word": "one"}}, {"name": "b", "vars": {"word": "two"}}],
                  rubric={"pass": 1.0, "criteria": [{"id": "says", "check": "contains", "value": "{{ word }}"}]})
    write_exercise(tmp_path, "t/two.j2", two)
    code, out, _ = lab(capsys, "run", "t/two", "--exercises", str(tmp_path), "--model", "openai/echo", "--api-base", api_base,
                       "--prompt", "say {{ word }}", "--samples", "2")
    assert code == 0
    assert out.split("\n", 1)[1].startswith("── a · sample 1 ──\nsay one\n── a · sample 2 ──\nsay one\n"
                          "── b · sample 1 ──\nsay two\n── b · sample 2 ──\nsay two\n\n")
    assert " ✓ says" in out and "8 prompt + 8 completion tokens" in out


def test_validate_a_file_of_a_course_that_uses_a_layout(capsys, tmp_path: Path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "_course.j2").write_text("{% block brief %}Layout says: {% block task %}{% endblock %}{% endblock %}", encoding="utf-8")
    exercise = write_exercise(course, "t/uses-layout.j2", minimal(), "{% extends '_course.j2' %}{% block task %}greet{% endblock %}")
    code, out, _ = lab(capsys, "validate", str(exercise), "--exercises", str(course))
    assert (code, out) == (0, "1 of 1 exercise file(s) valid; 0 problem(s).\n")
    code, out, _ = lab(capsys, "validate", str(exercise))  # the root is then the file's own folder
    assert code == 2
    assert "template error: no file '_course.j2' in this exercise root" in out
    assert f"fix: layouts are looked up from the exercise root ({exercise.parent}); check the name, or give the course's top folder with --exercises" in out


def test_a_bug_of_ours_is_one_sentence_not_a_traceback(capsys, monkeypatch: pytest.MonkeyPatch):
    def broken(args):
        raise RuntimeError("something we did not expect")

    monkeypatch.delenv("LAB_DEBUG", raising=False)
    from lab.cli import build_parser

    parser = build_parser()
    monkeypatch.setattr("lab.cli.build_parser", lambda command=None: _rebound(parser, broken))
    code, out, err = lab(capsys, "progress")
    assert code == 2 and out == ""
    assert err == ("lab: internal error (RuntimeError: something we did not expect); this is a bug in Prompt Lab. "
                   "Run again with LAB_DEBUG=1 for the details and report them; your work is saved.\n")


def _rebound(parser, handler):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.choices["progress"].set_defaults(handler=handler)
    return parser


def test_ctrl_c_during_lab_run_exits_130_and_says_it_was_cancelled(capsys, course: Path, monkeypatch: pytest.MonkeyPatch):
    from lab.errors import CancelledError
    from lab.practice import attempts

    def interrupted(*args, **kwargs):
        raise CancelledError()  # what run_attempt raises after recording a Ctrl-C as cancelled

    monkeypatch.setattr(attempts, "run_attempt", interrupted)
    code, out, err = lab(capsys, *run_args(course, "http://127.0.0.1:9/v1", "--prompt", "Hello"))
    assert (code, err) == (130, "lab: The run was cancelled.\n")


@pytest.mark.parametrize("argv, dirs", [
    ([], []), (["--exercises", "a"], ["a"]), (["--exercises", "a", "--exercises=b"], ["a", "b"]),
    (["--exer", "a"], ["a"]),  # an abbreviation: argparse's to read, with the same outcome
])
def test_lab_with_only_exercise_folders_opens_the_lab_with_them(monkeypatch, argv: list[str], dirs: list[str]):
    from lab.tui import launch

    opened: list[list[str]] = []
    monkeypatch.setattr(launch, "open_lab", lambda d: opened.append(list(d)) or 0)
    assert main(argv) == 0
    assert opened == [dirs]


def test_a_missing_exercise_folder_after_the_option_is_argparses_error(monkeypatch, capsys):
    from lab.tui import launch

    monkeypatch.setattr(launch, "open_lab", lambda d: pytest.fail("opened the lab"))
    with pytest.raises(SystemExit) as exit_info:
        main(["--exercises"])
    assert exit_info.value.code == 2
    assert "--exercises: expected one argument" in capsys.readouterr().err


def test_the_lab_process_freezes_its_heap_before_the_interpreter_exits(monkeypatch):
    """`lab` (the script) runs `main`, then freezes the heap: Python's exit would otherwise walk every object
    left (55-60 ms of each command once pydantic, jinja2 and aiohttp are loaded)."""
    import gc

    import lab.cli

    monkeypatch.setattr(lab.cli, "main", lambda: 3)
    gc.unfreeze()
    try:
        assert lab.cli.run() == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_each_command_builds_its_own_modules_parser_and_the_table_says_which():
    """`lab COMMAND` registers only COMMANDS[COMMAND]'s module (the others cost 20 ms of each start): the table
    must name every command each module registers, or a command would not be found."""
    import argparse

    from lab.cli import COMMANDS, build_parser

    def commands(parser: argparse.ArgumentParser) -> set[str]:
        return set(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)

    assert commands(build_parser()) == set(COMMANDS)
    for command, module in COMMANDS.items():
        alone = commands(build_parser(command))
        assert command in alone
        assert alone == {c for c, m in COMMANDS.items() if m == module}


@pytest.mark.parametrize(("argv", "word"), [
    (["grade", "a.jsonl"], "grade"), (["--exercises", "grade", "list"], "list"), (["--exercises=x", "show", "y"], "show"),
    (["-h", "grade"], None), (["--version"], None), ([], None), (["--exercises", "x"], None),
])
def test_the_command_word_is_the_first_word_past_the_exercise_folders(argv: list[str], word: str | None):
    from lab.cli import command_word

    assert command_word(argv) == word


def test_help_before_a_command_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["-h", "grade"])
    out = capsys.readouterr().out
    assert all(f" {c} " in out or f"{{{c}" in out or f",{c}" in out or f"    {c}" in out for c in ("list", "grade", "certify", "local"))
