"""The defects a new user met, at the engine's level: a judge criterion never graded gave the author's fail
advice, a failing score read as 1.00 (and a mastery under the bar as the bar), the report coloured a failed
0.87 all but green, `lab validate` said one kind of problem per file at a time, and `lab grade` never
named the submissions it skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal, write_exercise

from lab.cli import main
from lab.practice.grading import grade, grade_to_dict
from lab.practice.report import Paint, grade_lines, score_label

JUDGED = minimal(rubric={"pass": 1.0, "criteria": [
    {"id": "kind", "check": "judge", "rubric": "The answer is kind.", "feedback": "Be kinder: thank them."},
    {"id": "says-hello", "check": "icontains", "value": "hello", "feedback": "Say hello."},
]})


def test_a_judge_criterion_never_graded_gives_no_fail_advice(tmp_path: Path):
    from rich.console import Console

    from lab.tui.widgets.grade import grade_renderable

    exercise = load(tmp_path, "t/judged.j2", JUDGED)
    result = grade_to_dict(grade(exercise, {"only": ["goodbye"]}))  # no judge: `kind` is ungraded
    kind, hello = result["criteria"]
    assert kind["ungraded"] and kind["feedback"] is None and hello["feedback"] == "Say hello."
    lines = "\n".join(grade_lines(result, Paint()))
    assert "→ Say hello." in lines and "Be kinder" not in lines
    kind["feedback"] = "Be kinder: thank them."  # as a result stored before this fix kept it
    assert "Be kinder" not in "\n".join(grade_lines(result, Paint()))
    console = Console(record=True, width=120, color_system=None, file=__import__("io").StringIO())
    console.print(grade_renderable(result))
    shown = console.export_text()
    assert "Be kinder" not in shown and "→ Say hello." in shown


@pytest.mark.parametrize(("score", "passed", "mark", "shown"), [
    (799 / 800, False, 1.0, "0.99"),  # 799 words of 800: a fail never prints as 1.00
    (0.8999, False, 0.9, "0.89"),  # nor as its pass mark
    (2 / 3, False, 0.8, "0.67"),  # a fail well under the mark rounds as usual
    (1.0, True, 1.0, "1.00"),
    (0.9, True, 0.9, "0.90"),
])
def test_a_failing_score_never_reads_as_a_pass(score: float, passed: bool, mark: float, shown: str):
    from lab.tui.format import score_text

    assert score_label(score, passed, mark) == shown
    assert score_text(score, passed, mark) == shown  # the lab's status line, history and catalogue say it as the CLI does


def test_a_mastery_under_the_bar_never_prints_as_the_bar():
    from lab.classroom.certificates import Refusal

    reason = Refusal("ana", 0.8499, "practising", ("t/a",)).reason
    assert reason == "ana: not certified, mastery 0.84 (practising) is below 0.85; not passed: t/a."
    many = Refusal("bo", 0.1, "started", tuple(f"t/{n}" for n in range(12))).reason
    assert many.endswith("t/6, t/7, and 4 more.")


def test_the_report_colours_a_fail_as_a_fail_however_high_it_scored():
    import re

    from lab.classroom.report import _colour

    def hue(colour: str) -> int:
        return int(re.match(r"hsl\((\d+),", colour).group(1))

    assert hue(_colour(0.87, False)) <= 40  # red to amber
    assert hue(_colour(0.87, True)) >= 110 and hue(_colour(0.5, True)) >= 110  # a pass is green
    assert hue(_colour(0.87, None)) > 90  # a rate with no verdict keeps its gradient


def test_validate_reports_every_kind_of_problem_of_a_file_at_once(tmp_path: Path, capsys):
    root = tmp_path / "course"
    write_exercise(root, "t/multi.j2", minimal(title="Several problems", minuts=5, rubric={"criteria": [
        {"id": "has-x", "check": "contains", "valeu": "y"}]}),
        "{% block brief %}Write about {{ poet }}.{% endblock %}\n")
    assert main(["validate", str(root)]) == 2
    out = capsys.readouterr().out
    assert "unknown key 'minuts' (did you mean 'minutes'?)" in out  # the front matter
    assert "template error: 'poet' is not defined (block 'brief', case 'only')" in out  # the template
    assert "check 'contains' has no parameter 'valeu' (did you mean 'value'?)" in out  # the rubric
    write_exercise(root, "t/multi.j2", minimal(title="Several problems", rubric={"criteria": [
        {"id": "has-x", "check": "contains", "valeu": "y"}]}), "{% block brief %}{% if x %}{% endfi %}{% endblock %}\n")
    assert main(["validate", str(root)]) == 2
    out = capsys.readouterr().out
    assert "template syntax error" in out and "has no parameter 'valeu'" in out  # a template that does not compile hides no rubric problem


def test_lab_grade_names_what_it_skipped_with_the_closest_id_in_its_summary_and_report(tmp_path: Path, capsys, cassette, api_base,
                                                                                      monkeypatch):
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    root = tmp_path / "course"
    write_exercise(root, "t/greet.j2", minimal(id="t/greet", title="Greet"))
    hand_in = tmp_path / "class.csv"
    hand_in.write_text("learner,exercise,prompt\nana,t/greet,say hello\nbob,greeet,say hello\n", encoding="utf-8")
    out_dir = tmp_path / "cohort"
    argv = ["grade", str(hand_in), "--out", str(out_dir), "--exercises", str(root), "--model", "openai/echo", "--api-base", api_base]
    assert main(argv) == 2  # bad input: a submission was skipped
    out, err = capsys.readouterr()
    assert "unknown exercise 'greeet'" in err and "Did you mean t/greet?" in err
    assert "1 submission(s) skipped, not graded (each named above with why; the report lists them too)." in err
    report = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "Skipped submissions (1)" in report and "unknown exercise &#x27;greeet&#x27;" in report
    assert json.loads((out_dir / "skipped.json").read_text(encoding="utf-8"))[0]["line"] == 3
    hand_in.write_text("learner,exercise,prompt\nana,t/greet,say hello\n", encoding="utf-8")
    assert main(argv) == 0  # nothing skipped: the list goes (ana's grading is recorded, no call is made again)
    assert "Skipped submissions" not in (out_dir / "report.html").read_text(encoding="utf-8")
    assert not (out_dir / "skipped.json").exists()
