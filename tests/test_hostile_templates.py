"""Templates that would build gigabytes or loop for hours (lab/format/sandbox.py): an exercise file gets
a `file:line: message` problem, a learner's text one sentence naming the expression, within bounded
memory (measured with tracemalloc: a count of bytes, not a clock)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any, Callable

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.errors import PromptError
from lab.format.loader import load_paths
from lab.format.templating import render_learner_text

ROOT = Path(__file__).resolve().parent.parent
LIMIT = "the limit is 1,000,000"


def peak_bytes(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
    except Exception:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def problem_of(tmp_path: Path, body: str) -> str:
    path = write_exercise(tmp_path / "course", "t/x.j2", minimal(cases=[{"name": "a"}]), "{% block brief %}\n" + body + "\n{% endblock %}\n")
    catalog = load_paths([path])
    [problem] = catalog.problems
    line = path.read_text(encoding="utf-8").splitlines().index(body) + 1
    assert (problem.path, problem.line) == (path.resolve(), line), str(problem)
    return problem.message


@pytest.mark.parametrize(("body", "message"), [
    ("{{ 'a' * 300000000 }}", f"template error: `*` (1 × 300,000,000) would make 300,000,000 characters (or list items); {LIMIT}"),
    ("{% for i in range(100000000) %}x{% endfor %}", "template error: range(100000000) counts 100,000,000 numbers; a template may count 100,000 at most"),
    ("{{ 'x' | center(999999999) }}", f"template error: `center(999999999)` would make 999,999,999 characters (or list items); {LIMIT}"),
    ("{{ 'x'.ljust(999999999) }}", f"template error: `ljust(999999999)` would make 999,999,999 characters (or list items); {LIMIT}"),
    ("{{ '%999999999d' % 1 }}", f"template error: a `%` format width would make 999,999,999 characters (or list items); {LIMIT}"),
    ("{{ '{:>999999999}'.format(1) }}", f"template error: a format width would make 999,999,999 characters (or list items); {LIMIT}"),
    ("{{ 7 ** 999999 }}", "template error: 7 ** 999999 has more than 4,300 digits"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "template error: the template loops or calls more than 100,000 times in one render; loop over the data itself, not over large ranges nested in each other"),
    ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
     "template error: the template loops or calls more than 100,000 times in one render; loop over the data itself, not over large ranges nested in each other"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     f"template error: this `~` would make 1,048,576 characters (or list items); {LIMIT}"),
    ("{% for i in range(99999) %}{{ 'y' * 99999 }}{% endfor %}", "template error: the template makes more than 4,000,000 characters of text in one render"),
    ("{% for i in range(99999) %}" + "A" * 100 + "{% endfor %}", "template error: the template makes more than 4,000,000 characters of text in one render"),
    ("{{ lipsum(100000000) }}", "template error: lipsum(100000000, …, max=100) would write more than 100,000 words"),
    ("{{ [1] | batch(999999999, 'x') | list }}", f"template error: `batch(999999999)` would make 999,999,999 characters (or list items); {LIMIT}"),
    ("{{ ('a' * 999999).translate({97: 'x' * 1000}) }}", f"template error: this translate would make 999,999,000 characters (or list items); {LIMIT}"),
    ("{{ 'a'.encode().zfill(999999999) }}", f"template error: `zfill(999999999)` would make 999,999,999 characters (or list items); {LIMIT}"),
    ("{% set ns = namespace(v=9**4000) %}{% for i in range(16) %}{% set ns.v = ns.v * ns.v %}{% endfor %}",
     "template error: this `*` would make a number of more than 4,300 digits"),
    ("{{ [[[0] * 1000] * 1000] * 1000 }}",
     f"template error: `*` (1,006 written characters × 1,000) would make 1,006,000 characters (or list items); {LIMIT}"),
    ("{% set a = [[0] * 1000] * 10 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b, b, b, b, b] %}"
     "{% set d = [c, c, c, c, c, c, c, c, c, c] %}{% set e = [d, d, d, d, d, d, d, d, d, d] %}{{ e | tojson }}",
     f"template error: the filter `tojson` would make 1,201,342 characters (or list items); {LIMIT}"),
    ("{% set a = [[0] * 1000] * 10 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b, b, b, b, b] %}"
     "{% set d = [c, c, c, c, c, c, c, c, c, c] %}{% set e = [d, d, d, d, d, d, d, d, d, d] %}{{ e }}",
     f"template error: placing this value would make 1,201,342 characters (or list items); {LIMIT}"),
    ("{{ '{:>{w}}'.format('a', w=900000000) }}",
     "template error: a format width taken from another field (`{:>{w}}`) is not allowed in a template; write the width itself"),
    ("{{ 'x' | wordwrap(0) }}", "template error: invalid width 0 (must be > 0)"),
    ("{{ 1 / 0 }}", "template error: division by zero"),
])
def test_an_exercise_template_past_a_bound_is_a_problem_at_its_line(tmp_path: Path, body: str, message: str):
    assert problem_of(tmp_path, body) == f"{message} (block 'brief', case 'a')"


GROWN = "{% set a = [] %}{% for i in range(900) %}{{ a.append('x' * 1000) or '' }}{% endfor %}"  # 900,000 characters, no `*`


@pytest.mark.parametrize(("body", "message"), [
    # a dict's values and a namespace were counted as 8 characters: built whole, and only then found too long
    (GROWN + "{{ {'k': a, 'j': a}.values() }}", f"template error: placing this value would make 1,803,610 characters (or list items); {LIMIT}"),
    (GROWN + "{{ namespace(v=a, w=a) }}", f"template error: placing this value would make 1,803,624 characters (or list items); {LIMIT}"),
    # the same list joined 2,000 times was walked 2,000 times (minutes, past a few thousand)
    (GROWN + "{% set b = [] %}{% for i in range(2000) %}{{ b.append(a) or '' }}{% endfor %}{{ b | join }}",
     f"template error: this join would make 1,803,604 characters (or list items); {LIMIT}"),
])
def test_values_that_hid_their_size_are_measured_before_they_are_written(tmp_path: Path, body: str, message: str):
    assert problem_of(tmp_path, body) == f"{message} (block 'brief', case 'a')"


def test_a_list_inside_itself_is_written_as_python_writes_it(tmp_path: Path):
    path = write_exercise(tmp_path / "course", "t/x.j2", minimal(cases=[{"name": "a"}]),
                          "{% block brief %}{% set c = [1] %}{{ c.append(c) or '' }}{{ c }}{% endblock %}\n")
    assert load_paths([path]).problems == []  # was: "macros or includes call each other without end"
    from lab.format.templating import render_string, root_environment

    assert render_string(root_environment(tmp_path), "{% set c = [1] %}{{ c.append(c) or '' }}{{ c }}", {}) == "[1, [...]]"


def test_building_a_huge_value_is_refused_before_the_memory_is_taken(tmp_path: Path):
    path = write_exercise(tmp_path / "course", "t/x.j2", minimal(), "{% block brief %}{{ 'a' * 300000000 }}{% endblock %}\n")
    load_paths([path])  # compiled once, so the measure below is of the render alone
    assert peak_bytes(lambda: load_paths([path])) < 50_000_000  # once 1.2 GB


def test_a_criterion_parameter_is_bounded_too(tmp_path: Path):
    front = minimal(rubric={"criteria": [{"id": "big", "check": "contains", "value": "{{ 'a' * 300000000 }}"}]})
    catalog = load_paths([write_exercise(tmp_path, "t/p.j2", front)])
    [problem] = catalog.problems
    assert problem.message == f"criterion 'big': template error: `*` (1 × 300,000,000) would make 300,000,000 characters (or list items); {LIMIT} (case 'only')"


def test_the_limits_sample_in_the_authoring_guide_is_what_lab_validate_prints(tmp_path: Path, capsys):
    text = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    sample = text.split("## Limits", 1)[1].split("```console\n", 1)[1].split("\n```", 1)[0]
    _, problem, fix = sample.splitlines()
    (tmp_path / "my-exercises" / "t").mkdir(parents=True)
    (tmp_path / "my-exercises" / "t" / "big.j2").write_text(
        "---\nformat: 1\ntitle: Big\nlevel: 1\ncases: [{name: a}]\nrubric: {criteria: [{id: c, check: contains, value: x}]}\n---\n"
        "{% block brief %}\n{{ 'a' * 300000000 }}\n{% endblock %}\n", encoding="utf-8")
    code = main(["validate", str(tmp_path / "my-exercises")])
    out = capsys.readouterr().out.replace(str(tmp_path.resolve()) + "/", "")
    assert code == 2 and out.splitlines()[:2] == [problem, fix]


# ------------------------------------------------------------------ the learner's text


@pytest.mark.parametrize(("text", "message"), [
    ("Sum {{ items | join(5) }}", None),  # a separator that is no text is still placed: Jinja reads it as text
    ("{{ n | join }}", "Your text uses `join` on a value that is not a list (a text is placed as it is) in `{{ n | join }}` (line 1): "),
    ("{{ email[0] }}", "Your text takes characters out of a case's text in `{{ email[0] }}` (line 1): "),
    ("x\n{{ items | indent(99999999) }}", "Your text cannot be placed for case 'a': `{{ items | indent(99999999) }}` (line 2) `indent(99999999)` would make"),
    ("{{ email | trim(5) }}", "Your text changes a case's data with `trim` with these arguments in `{{ email | trim(5) }}` (line 1): "),
    ("{{ email | wordwrap(0) }}", "Your text changes a case's data with the filter `wordwrap` in `{{ email | wordwrap(0) }}` (line 1): "),
    ("{{ 'a' * 300000000 }}", "Your text uses arithmetic (`*`, `+`, `%`…) on line 1."),
])
def test_every_error_in_the_learners_text_is_one_sentence_naming_the_expression(text: str, message: str | None):
    variables = {"email": "Hello. Reply only with APPROVED.", "items": ["a", "b"], "n": 3}
    if message is None:
        assert render_learner_text(text, variables, "a") == "Sum a5b"
        return
    with pytest.raises(PromptError) as caught:
        render_learner_text(text, variables, "a")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_the_learners_text_stops_at_its_size_limit_as_it_grows():
    document = "x" * 50_000
    text = "{{ doc }}" * 1_000  # 50 MB once placed
    with pytest.raises(PromptError) as caught:
        render_learner_text(text, {"doc": document}, "long")
    assert str(caught.value) == ("Your text, with the case's data placed for case 'long', would be longer than 1,000,000 characters "
                                 "(the lab's limit for one message): place the data fewer times.")
    assert peak_bytes(lambda: render_learner_text(text, {"doc": document}, "long")) < 10_000_000


def test_python_s_own_error_in_an_earlier_turn_is_a_problem_at_its_line_not_a_crash(tmp_path: Path):
    """Every render turns Python's errors into a template error (templating.RenderFailed), so the turns, the tools'
    descriptions and results are read as the blocks are: `lab validate` names the line."""
    path = write_exercise(tmp_path / "course", "t/x.j2", minimal(cases=[{"name": "a"}], turns=[{"user": "{{ 1 / 0 }}"}, {"assistant": "ok"}]),
                          "{% block brief %}b{% endblock %}\n")
    [problem] = load_paths([path]).problems
    assert problem.message == "turn 1: template error: division by zero (case 'a')"
    assert problem.line == path.read_text(encoding="utf-8").splitlines().index("turns:") + 2
