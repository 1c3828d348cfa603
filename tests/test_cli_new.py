"""`lab new TRACK/NAME`: a skeleton that validates and checks clean, written where exercises are found,
never over an existing file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.cli import main
from lab.errors import LabError
from lab.format.skeleton import write_skeleton


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_new_writes_a_skeleton_in_the_users_folder_that_validates_and_checks_clean(capsys, lab_home: Path):
    code, out, _ = lab(capsys, "new", "my-course/first-prompt")
    path = lab_home / "exercises" / "my-course" / "first-prompt.j2"
    assert code == 0 and out.startswith(f"Wrote {path}\n") and path.is_file()
    code, out, err = lab(capsys, "validate", str(path), "--json")
    assert (code, json.loads(out)) == (0, {"exercises": 1, "problems": []})
    code, out, _ = lab(capsys, "check", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["contradictions"] == 0 and report["undecided"] == 0
    [entry] = report["exercises"]
    assert entry["id"] == "my-course/first-prompt" and entry["warnings"] == []
    assert [e["verdict"] for e in entry["examples"]] == ["pass", "fail"]
    code, out, _ = lab(capsys, "list", "--track", "my-course", "--json")  # found with no --exercises: the user's folder
    assert code == 0 and [r["id"] for r in json.loads(out)] == ["my-course/first-prompt"]


def test_new_under_exercises_dir(capsys, tmp_path: Path):
    course = tmp_path / "course"
    code, out, _ = lab(capsys, "new", "basics/greet", "--exercises", str(course))
    assert code == 0 and (course / "basics" / "greet.j2").is_file()
    assert f"`lab show --exercises {course} basics/greet`" in out
    code, out, _ = lab(capsys, "show", "greet", "--exercises", str(course))
    assert code == 0 and out.startswith("# Greet\n\nbasics/greet ·")


def test_new_refuses_to_overwrite_or_to_reuse_an_id(capsys, tmp_path: Path):
    course = tmp_path / "course"
    assert lab(capsys, "new", "basics/greet", "--exercises", str(course))[0] == 0
    (course / "basics" / "greet.j2").write_text("mine", encoding="utf-8")  # now broken: not listed, but the file is there
    code, _, err = lab(capsys, "new", "basics/greet", "--exercises", str(course))
    assert code == 2 and err == f"lab: {course / 'basics' / 'greet.j2'} already exists: choose another NAME, or edit that file.\n"
    assert (course / "basics" / "greet.j2").read_text(encoding="utf-8") == "mine"
    code, _, err = lab(capsys, "new", "prompt-engineering/delimiters", "--exercises", str(course))
    assert code == 2 and err.startswith("lab: An exercise prompt-engineering/delimiters exists already (")
    assert not (course / "prompt-engineering").exists()


def test_write_skeleton_never_overwrites(tmp_path: Path):
    path = write_skeleton(tmp_path, "a/b")
    with pytest.raises(LabError, match="already exists"):
        write_skeleton(tmp_path, "a/b")
    assert path.read_text(encoding="utf-8").startswith("---\nformat: 1\nid: a/b\n")


@pytest.mark.parametrize("bad", ["greet", "a/b/c", "Basics/Greet", "a/-b", "a/b.j2", "../x"])
def test_new_with_a_bad_id_says_how_to_write_one(capsys, bad: str, lab_home: Path):
    code, out, err = lab(capsys, "new", bad)
    assert (code, out) == (2, "")
    assert err == f"lab: '{bad}' is not TRACK/NAME: write two parts of lower-case letters, digits and dashes, e.g. `lab new my-course/first-prompt`.\n"
    assert not (lab_home / "exercises").exists()


def test_new_tools_kind_writes_a_tool_exercise_that_validates_and_checks_as_written(capsys, tmp_path: Path):
    """`--kind tools`: one tool (a JSON Schema `parameters`, a rendered `result`), `model.tool_rounds`, `tool-called`
    criteria, a solution, and a passing and a near-miss example with `calls`; `lab validate` and `lab check` are clean."""
    from lab.format.loader import load_exercise
    from lab.practice.learner import solution_text

    course = tmp_path / "course"
    code, out, _ = lab(capsys, "new", "agents-101/track-an-order", "--kind", "tools", "--exercises", str(course))
    path = course / "agents-101" / "track-an-order.j2"
    assert code == 0 and out.startswith(f"Wrote {path}\n")
    code, out, _ = lab(capsys, "validate", str(path), "--json")
    assert (code, json.loads(out)) == (0, {"exercises": 1, "problems": []})
    code, out, _ = lab(capsys, "check", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["problems"] == [] and report["contradictions"] == 0 and report["undecided"] == 0
    [entry] = report["exercises"]
    assert entry["warnings"] == [] and [e["verdict"] for e in entry["examples"]] == ["pass", "fail"]

    exercise = load_exercise(path, course)
    [tool] = exercise.tools
    assert tool.name == "get_order" and tool.parameters["type"] == "object" and tool.parameters["required"] == ["order_id"]
    assert tool.parameters["properties"]["order_id"]["pattern"] == "^[0-9]+$"  # `$` survives the skeleton's own template
    assert "{{ args.order_id }}" in tool.result and exercise.meta.model.tool_rounds == 3
    called = [c for c in exercise.rubric.criteria if c.check == "tool-called"]
    assert [c.negate for c in called] == [False, True]  # it must look up, and must not call when the number is missing
    good, near_miss = exercise.meta.examples
    assert good.calls and near_miss.calls["no-number"][0].name == "get_order"  # the near miss invents a number
    assert "never guess" in solution_text(exercise)
    code, out, _ = lab(capsys, "show", "agents-101/track-an-order", "--exercises", str(course))
    assert code == 0 and "get_order(order_id: string)" in out
