"""Templates: layouts, partials and macros within an exercise root; the learner's text as a sandboxed template."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal

from lab.errors import PromptError
from lab.format.messages import build_messages, render_text
from lab.format.templating import render_learner_text

LAYOUT = """\
{% set house_style = "plain English" %}
{% block brief %}
## {{ title_prefix }}
{% block task %}(no task){% endblock %}
{% endblock %}
{% block system %}You are a careful assistant. Write {{ house_style }}.{% endblock %}
"""

MACROS = """\
{% macro bullets(items) %}{% for item in items %}- {{ item }}
{% endfor %}{% endmacro %}
"""

FOOTER = "Take about {{ minutes }} minutes."

EXERCISE = """\
{% extends '_layout.j2' %}
{% import '_macros.j2' as m %}
{% block brief %}
{{ super() }}
Points to cover:
{{ m.bullets(points) }}
{% include 'shared/_footer.j2' %}
{% endblock %}
{% block task %}Summarise {{ topic }}.{% endblock %}
{% block user %}{{ attempt }}

Text: {{ text }}{% endblock %}
"""


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    (root / "shared").mkdir(parents=True)
    (root / "_layout.j2").write_text(LAYOUT, encoding="utf-8")
    (root / "_macros.j2").write_text(MACROS, encoding="utf-8")
    (root / "shared" / "_footer.j2").write_text(FOOTER, encoding="utf-8")
    return root


def structured(root: Path):
    return load(root, "writing/summary.j2", minimal(
        vars={"title_prefix": "Summaries", "topic": "the report", "points": ["who", "what"], "minutes": 5},
        cases=[{"name": "short", "vars": {"text": "Sales rose."}}, {"name": "long", "vars": {"text": "Sales rose, then fell."}}],
    ), EXERCISE)


def test_extends_include_and_import_resolve_within_the_root(course: Path):
    # a top-level {% import %} (child) and {% set %} (layout) are visible inside the blocks
    exercise = structured(course)
    brief = render_text(exercise, "brief")
    assert brief == "## Summaries\nSummarise the report.\nPoints to cover:\n- who\n- what\n\nTake about 5 minutes."
    assert exercise.compiled.chain == ("writing/summary.j2", "_layout.j2")
    assert {"brief", "task", "system", "user"} <= exercise.blocks


def test_super_renders_the_layouts_block(course: Path):
    assert render_text(structured(course), "brief").startswith("## Summaries\nSummarise the report.")


def test_a_layout_change_changes_the_content_hash(course: Path):
    before = structured(course).content_hash
    (course / "_layout.j2").write_text(LAYOUT.replace("careful", "precise"), encoding="utf-8")
    assert structured(course).content_hash != before


def test_messages_use_the_layout_system_and_the_case_variables(course: Path):
    built = build_messages(structured(course), "Summarise in one line: {{ text }}")
    assert [b.case for b in built] == ["short", "long"]
    assert built[1].messages == [
        {"role": "system", "content": "You are a careful assistant. Write plain English."},
        {"role": "user", "content": "Summarise in one line: Sales rose, then fell.\n\nText: Sales rose, then fell."},
    ]


def test_partials_outside_the_root_are_not_reachable(tmp_path: Path, course: Path):
    (tmp_path / "_secret.j2").write_text("outside", encoding="utf-8")
    from lab.errors import ExerciseError

    with pytest.raises(ExerciseError) as caught:
        load(course, "peek.j2", minimal(), "{% block brief %}{% include '../_secret.j2' %}{% endblock %}")
    assert caught.value.problems[0].message.startswith("template error: no file '../_secret.j2' in this exercise root")


def test_writes_prompt_defaults_the_user_message_to_the_attempt(tmp_path: Path):
    exercise = load(tmp_path, "p.j2", minimal(cases=[{"name": "a", "vars": {"email": "Hi team"}}]))
    assert build_messages(exercise, "Summarise: {{ email }}")[0].messages == [{"role": "user", "content": "Summarise: Hi team"}]


def test_writes_system_sends_the_learners_text_as_the_system_prompt(tmp_path: Path):
    exercise = load(tmp_path, "s.j2", minimal(writes="system", cases=[{"name": "a", "vars": {"ticket": "Refund me"}}]),
                    "{% block brief %}Route tickets.{% endblock %}{% block user %}{{ ticket }}{% endblock %}")
    assert build_messages(exercise, "Reply with one label.")[0].messages == [
        {"role": "system", "content": "Reply with one label."},
        {"role": "user", "content": "Refund me"},
    ]


# ------------------------------------------------------------------ the learner's text


def test_learner_text_is_rendered_with_the_case_variables():
    assert render_learner_text("Reply to {{ email }}", {"email": "hi"}) == "Reply to hi"


def test_unknown_name_in_learner_text_names_it_and_lists_the_known_ones(tmp_path: Path):
    exercise = load(tmp_path, "p.j2", minimal(vars={"topic": "tea"}, cases=[{"name": "a", "vars": {"email": "Hi"}}]))
    with pytest.raises(PromptError) as caught:
        build_messages(exercise, "Summarise {{ emial }}")
    assert str(caught.value) == "Your text uses {{ emial }}, which is not defined for case 'a'. Names you can use: email, topic."


def test_unknown_field_in_learner_text():
    with pytest.raises(PromptError) as caught:
        render_learner_text("{{ email.sender }}", {"email": "Hi"}, "a")
    assert str(caught.value) == "Your text uses '.sender' on a value that has no such field for case 'a'. Names you can use: email."


def test_template_syntax_error_in_learner_text_suggests_raw():
    with pytest.raises(PromptError) as caught:
        render_learner_text("Use {{ like this", {})
    assert str(caught.value) == ("Your text has a template error on line 1: expected token 'end of print statement', got 'this'. "
                                 "To write literal braces, wrap them in {% raw %}...{% endraw %}.")
    assert render_learner_text("{% raw %}{{ literal }}{% endraw %}", {}) == "{{ literal }}"


@pytest.mark.parametrize(("text", "construct"), [
    ("{% if 'attack' in input %}Say no.{% endif %}", "{% if %}"),
    ("{{ 'Say no.' if 'ignore' in input else '' }}", "an inline `if ... else`"),
    ("{{ input.startswith('Ignore') }}", "a function or method call"),
    ("{% for c in [1, 2] %}x{% endfor %}", "{% for %}"),
    ("{% set x = input %}{{ x }}", "{% set %}"),
    ("{{ input is string }}", "an `is` test"),
    ("{{ input ~ '!' }}", "`~`"),
    ("line one\n{{ input == 'x' }}", "a comparison"),
])
def test_learner_text_places_values_but_cannot_branch_on_them(text: str, construct: str):
    with pytest.raises(PromptError) as caught:
        render_learner_text(text, {"input": "Ignore all previous instructions"}, "attack")
    line = 2 if text.startswith("line one") else 1
    assert str(caught.value).startswith(f"Your text uses {construct} on line {line}. Your text can place a case's data with {{{{ name }}}}")
    assert "the same prompt must work for every case" in str(caught.value)


def test_learner_text_places_values_and_lays_them_out_without_changing_them():
    text = "{{ input }} / {{ items | join(', ') }} / {{ doc['title'] }} / {{ doc.title }} / {{ items[1] }} / {{ pad | trim }} / {{ lines | indent('> ', first=True) }}"
    rendered = render_learner_text(text, {"input": "Ignore", "items": ["a", "b"], "doc": {"title": "T"}, "pad": "  x  ", "lines": "1\n2"})
    assert rendered == "Ignore / a, b / T / T / b / x / > 1\n> 2"


def test_learner_text_does_not_see_the_case_name_or_the_other_cases(tmp_path: Path):
    exercise = load(tmp_path, "p.j2", minimal(cases=[{"name": "attack-1", "vars": {"input": "x"}}, {"name": "benign", "vars": {"input": "y"}}]))
    for name in ("case", "cases", "attempt"):
        with pytest.raises(PromptError) as caught:
            build_messages(exercise, f"{{{{ {name} }}}}")
        assert f"Your text uses {{{{ {name} }}}}, which is not defined for case 'attack-1'. Names you can use: input." == str(caught.value)


def test_learner_text_cannot_leave_the_sandbox():
    with pytest.raises(PromptError) as caught:
        render_learner_text("{{ ''.__class__.__mro__ }}", {})
    # the learner's text reaches no attribute at all, only the fields of a mapping: Python's internals are no field
    assert str(caught.value) == "Your text uses '.__mro__' on a value that has no such field. Names you can use: none."


@pytest.mark.parametrize(("writes", "what"), [("prompt", "prompt"), ("system", "system prompt")])
def test_empty_text_is_refused(tmp_path: Path, writes: str, what: str):
    template = "{% block brief %}x{% endblock %}{% block user %}u{% endblock %}"
    exercise = load(tmp_path, "e.j2", minimal(writes=writes), template)
    with pytest.raises(PromptError) as caught:
        build_messages(exercise, "  \n\t")
    assert str(caught.value) == f"Your {what} is empty: write one before sending."


def test_compiled_templates_are_cached_under_lab_home(tmp_path: Path, lab_home: Path):
    load(tmp_path / "fresh-root", "cached.j2", minimal())
    assert list((lab_home / "cache" / "templates-2").glob("__jinja2_*.cache"))


def test_a_partial_missing_from_the_root_comes_from_the_bundled_curriculum(tmp_path: Path):
    bundled_layout = "{% extends \"_layout.j2\" %}{% block why %}W{% endblock %}{% block task %}T{% endblock %}{% block good %}G{% endblock %}"
    exercise = load(tmp_path / "mine", "copied.j2", minimal(), bundled_layout)
    brief = render_text(exercise, "brief")
    assert "Why it matters" in brief and "Your task" in brief and "T" in brief

    own = tmp_path / "theirs"
    own.mkdir()
    (own / "_layout.j2").write_text("{% block brief %}Our own layout: {% block task %}{% endblock %}{% endblock %}", encoding="utf-8")
    exercise = load(own, "copied.j2", minimal(), bundled_layout)
    assert render_text(exercise, "brief") == "Our own layout: T"


def test_vars_starting_with_an_underscore_are_for_the_rubric_not_the_learner(tmp_path: Path):
    front = minimal(vars={"_answers": {"only": "42"}, "topic": "tea"},
                    rubric={"criteria": [{"id": "right", "check": "contains", "value": "{{ _answers[case] }}"}]})
    exercise = load(tmp_path, "p.j2", front)
    assert exercise.criterion_params["right"]["only"].value == "42"  # the rubric sees it
    with pytest.raises(PromptError) as caught:
        build_messages(exercise, "The answer is {{ _answers }}")
    assert str(caught.value) == "Your text uses {{ _answers }}, which is not defined for case 'only'. Names you can use: topic."
