"""Every kind of broken exercise file gets a problem naming the file, the line, what is wrong and how to fix it.

The files are in tests/broken/; each is broken in exactly one way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.errors import ExerciseError, Problem
from lab.format.loader import load_catalog, load_exercise

BROKEN = Path(__file__).resolve().parent / "broken"

# (file, file the problem points at, line, message (exact, or the start when it ends with "…"), a word of the fix)
CASES = [
    ("no_front_matter.j2", None, 1, "no front matter: an exercise file starts with a line '---'", "start the file with '---'"),
    ("unclosed_front_matter.j2", None, 1, "the front matter is never closed", "add a line '---'"),
    ("invalid_yaml.j2", None, 7, "front matter is not valid YAML: expected <block end>, but found '<block mapping start>'", "indentation"),
    ("unknown_key.j2", None, 5, "unknown key 'skils' (did you mean 'skills'?)", "fix its spelling"),
    ("missing_required.j2", None, 2, "'level' is required", "add it"),
    ("wrong_format.j2", None, 2, "unknown format version 2: this Prompt Lab reads `format: 1`", "set `format: 1`"),
    ("unknown_check.j2", None, 9, "unknown check 'contain'. Did you mean 'contains'? Known checks: …", "use a check"),
    ("missing_param.j2", None, 8, "criterion 'has-x': check 'contains' needs the parameter 'value'", "add `value:`"),
    ("unknown_param.j2", None, 11, "criterion 'has-x': check 'contains' has no parameter 'valeu' (did you mean 'value'?)", "its parameters are: value"),
    ("bad_regex.j2", None, 10, "criterion 'lower': parameter 'pattern' is not a valid regular expression: missing ), unterminated subpattern at position 0", "'regex'"),
    ("jinja_syntax.j2", None, 11, "template syntax error: Encountered unknown tag 'endblok'. …", "{% endblock %}"),
    ("undefined_variable.j2", None, 11, "template error: 'poet' is not defined (block 'brief', case 'only')", "define it under `vars:`"),
    ("missing_brief.j2", None, 8, "no {% block brief %}: the learner would have no task to read", "add {% block brief %}"),
    ("system_without_user.j2", None, 5, "`writes: system` needs a {% block user %}: …", "{% block user %}{{ input }}{% endblock %}"),
    ("duplicate_cases.j2", None, 8, "case name 'polite' is used twice; case names must be unique", "rename one"),
    ("cases_glob_nothing.j2", None, 11, "criterion 'resists': `cases: ['attack-*']` matches no case", "use case names (polite, angry)"),
    ("example_missing_output.j2", None, 9, "example 1 has no output for case(s) angry", "give an output for every case"),
    ("missing_include.j2", None, 10, "template error: no file '_missing.j2' in this exercise root (block 'brief', case 'only')",
     f"partials are looked up from the exercise root ({BROKEN}); check the name, or give the course's top folder with --exercises"),
    ("extends_loop.j2", "_loop_b.j2", 1, "template error: layouts extend each other in a loop: extends_loop.j2 -> _loop_a.j2 -> _loop_b.j2 -> _loop_a.j2",
     "remove one of these {% extends %} tags"),
    ("sandbox_escape.j2", None, 10, "template error: the sandbox refused an operation (access to attribute '__class__' of 'str' object is unsafe.) …",
     "cannot reach Python internals"),
    ("not_utf8.j2", None, 3, "the file is not UTF-8 text (byte 24 cannot be read)", "save it as UTF-8"),
]


def problems_of(name: str) -> list[Problem]:
    with pytest.raises(ExerciseError) as caught:
        load_exercise(BROKEN / name, BROKEN)
    return caught.value.problems


@pytest.mark.parametrize(("name", "points_at", "line", "message", "fix"), CASES, ids=[c[0] for c in CASES])
def test_broken_file_is_reported_with_path_line_message_and_fix(name: str, points_at: str | None, line: int, message: str, fix: str):
    problems = problems_of(name)
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert problem.path == (BROKEN / (points_at or name)).resolve()
    assert problem.line == line
    if message.endswith("…"):
        assert problem.message.startswith(message[:-1])
    else:
        assert problem.message == message
    assert fix in problem.fix
    assert str(problem).startswith(f"{problem.path}:{line}: {problem.message}\n  fix: ")


def test_every_broken_fixture_is_covered():
    fixtures = {p.name for p in BROKEN.glob("*.j2") if not p.name.startswith("_")}
    assert fixtures == {c[0] for c in CASES}
    assert len(fixtures) >= 12


def test_several_problems_in_one_file_are_all_reported(tmp_path: Path):
    data = minimal(titel="typo", level=9, rubric={"criteria": [{"id": "a", "check": "containz", "value": "x"}]})
    path = write_exercise(tmp_path, "many.j2", data, "{% block brief %}{{ nope }}{% endblock %}")
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path)
    messages = [p.message for p in caught.value.problems]
    assert "unknown key 'titel' (did you mean 'title'?)" in messages
    assert "'level': Input should be less than or equal to 5" in messages
    assert str(caught.value).count(str(path)) == len(caught.value.problems)


def test_a_broken_file_does_not_stop_the_others_in_its_root(tmp_path: Path):
    root = tmp_path / "course"
    shutil.copytree(BROKEN, root / "broken")
    write_exercise(root, "good/fine.j2", minimal(title="Still loads"))
    catalog = load_catalog([root])
    assert "good/fine" in {e.id for e in catalog.exercises}
    assert {p.name for p in catalog.broken_files} == {c[0] for c in CASES}
    assert len(catalog.problems) == len(CASES)
    assert not any(e.id.startswith("broken/") for e in catalog.exercises)
    # the bundled curriculum is another root and loads too
    assert {"prompt-engineering/delimiters", "prompt-engineering/three-bullets"} <= {e.id for e in catalog.exercises}


@pytest.mark.parametrize(("name", "encode"), [
    ("crlf.j2", lambda text: text.replace("\n", "\r\n").encode("utf-8")),  # saved on Windows
    ("bom.j2", lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")),  # with a byte-order mark
])
def test_windows_line_endings_and_byte_order_mark_keep_lines_right(tmp_path: Path, name: str, encode):
    (tmp_path / name).write_bytes(encode((BROKEN / "undefined_variable.j2").read_text(encoding="utf-8")))
    with pytest.raises(ExerciseError) as caught:
        load_exercise(tmp_path / name, tmp_path)
    [problem] = caught.value.problems
    assert (problem.line, problem.message) == (11, "template error: 'poet' is not defined (block 'brief', case 'only')")


def test_a_misspelt_case_among_several_is_reported(tmp_path: Path):
    data = minimal(cases=[{"name": "polite"}, {"name": "angry"}],
                   rubric={"criteria": [{"id": "calm", "check": "contains", "value": "sorry", "cases": ["polite", "angyr"]}]})
    path = write_exercise(tmp_path, "typo.j2", data)
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path)
    [problem] = caught.value.problems
    assert problem.message == "criterion 'calm': 'angyr' under `cases:` matches no case (did you mean 'angry'?)"
    assert problem.fix == "the cases are: polite, angry"
    assert path.read_text(encoding="utf-8").splitlines()[problem.line - 1].strip() == "- angyr"
