"""Regression tests for the check bugs found against promptfoo's and Inspect AI's cases (issue 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.exercise_files import minimal, write_exercise

from graders import CheckContext, CheckResult, get_check
from lab.errors import ExerciseError
from lab.format.loader import load_exercise


def run(check: str, output: str, **params: Any) -> CheckResult:
    found = get_check(check)
    return found.fn(output, found.params.model_validate(params), CheckContext())


# ------------------------------------------------------------------ json


@pytest.mark.parametrize(("fmt", "good", "bad"), [
    ("date", "2024-02-29", "not a date"),
    ("email", "ana@example.org", "ana at example"),
    ("uri", "https://example.org/a?b=c", "not a uri"),
    ("date-time", "2024-02-29T10:30:00Z", "2024-02-29 sometime"),
    ("ipv4", "192.168.1.20", "999.1.1.1"),
])
def test_json_schema_formats_are_checked(fmt: str, good: str, bad: str):
    schema = {"type": "object", "properties": {"d": {"type": "string", "format": fmt}}}
    assert run("json", f'{{"d": "{good}"}}', schema=schema).passed
    r = run("json", f'{{"d": "{bad}"}}', schema=schema)
    assert not r.passed
    assert r.reason == f"The output does not fit the schema at $.d: '{bad}' is not a '{fmt}'."


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_refuses_nan_and_infinity(literal: str):
    r = run("json", f'{{"x": {literal}}}')
    assert not r.passed
    assert r.reason == f"The output is not valid JSON ({literal} is not a JSON number; JSON has no NaN or Infinity)."


# ------------------------------------------------------------------ empty and non-text parameters


def load_error(tmp_path: Path, criterion: dict[str, Any], **front: Any) -> str:
    path = write_exercise(tmp_path, "t/e.j2", minimal(rubric={"criteria": [criterion]}, **front))
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path)
    return str(caught.value)


@pytest.mark.parametrize(("check", "param"), [("contains", "value"), ("icontains", "value"), ("starts-with", "value"),
                                              ("equals", "value"), ("regex", "pattern")])
def test_an_empty_parameter_is_a_load_time_error_naming_criterion_and_case(tmp_path: Path, check: str, param: str):
    message = load_error(tmp_path, {"id": "c", "check": check, param: ""})
    assert f"e.j2:11: criterion 'c': parameter '{param}' is empty (case 'only'), so it would match every output" in message
    assert "give it a text, or check that the variable it uses has a value in every case" in message


def test_a_parameter_that_renders_empty_for_one_case_names_that_case(tmp_path: Path):
    message = load_error(tmp_path, {"id": "c", "check": "contains", "value": "{{ word }}"},
                         cases=[{"name": "full", "vars": {"word": "x"}}, {"name": "blank", "vars": {"word": ""}}])
    assert "criterion 'c': parameter 'value' is empty (case 'blank')" in message
    assert "case 'full'" not in message


def test_an_empty_entry_in_values_is_an_error(tmp_path: Path):
    message = load_error(tmp_path, {"id": "c", "check": "contains-any", "values": ["a", ""]})
    assert "criterion 'c': parameter 'values' has an empty entry (case 'only'), so it would match every output" in message


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (42, "42"), (2.5, "2.5"), (True, "true"), (False, "false")])
def test_numbers_and_booleans_are_read_as_their_text(value: Any, text: str):
    params = get_check("contains").params.model_validate({"value": value})
    assert params.value == text
    assert run("contains", f"the answer is {text}", value=value).passed


# ------------------------------------------------------------------ numbers-from


def numbers(output: str, source: str) -> CheckResult:
    return run("numbers-from", output, source=source)


def test_a_space_joins_only_groups_of_three_after_a_short_first_group():
    r = numbers("In 2023 400 units were sold", "2023: 400 units")
    assert r.passed, r.reason
    assert numbers("10 000 units", "10000 units").passed
    assert not numbers("In 2023 400 units", "2023400").passed


def test_exponents_are_read():
    assert not numbers("about 1e3 visits", "1 visit").passed
    assert numbers("about 1e3 visits", "1000 visits").passed
    assert numbers("2.5E-2 of them", "0.025").passed


def test_an_explicit_sign_opposite_to_the_source_fails():
    r = numbers("-5 million", "revenue grew by 5 million")
    assert not r.passed and "-5" in r.reason
    assert not numbers("+3 degrees", "it fell to -3 degrees").passed
    assert numbers("fell 11.1%", "change: -11.1%").passed  # an unsigned figure still matches a signed one


def test_vulgar_fractions_are_read_and_never_passed_unread():
    assert numbers("2½ hours", "2.5 hours").passed
    assert not numbers("2½ hours", "2 hours").passed
    assert numbers("¾ of them", "0.75").passed
    r = numbers("about ⅔ of 3", "3")
    assert not r.passed and "⅔" in r.reason


def test_a_figure_that_cannot_be_read_is_named_not_passed():
    r = numbers("ⅹ items and 3", "3")  # a Roman numeral character is not a figure we read; it is ignored as text
    assert r.passed
    r = numbers("2⅟ items", "2")
    assert not r.passed and "2⅟" in r.reason


# ------------------------------------------------------------------ typographic variants


@pytest.mark.parametrize(("check", "output", "value"), [
    ("contains", "I don’t know.", "don't know"),
    ("icontains", "I DON’T KNOW", "don't know"),
    ("contains", "Cafe\u0301 au lait", "Café"),
    ("equals", "10\u00a0000 €", "10 000 €"),
    ("starts-with", "“Yes”, she said", '"Yes"'),
    ("contains", "He said \u201chi\u201d", 'said "hi"'),
    ("regex", "I don’t know", "don't"),
])
def test_typographic_variants_match_their_plain_forms(check: str, output: str, value: str):
    key = "pattern" if check == "regex" else "value"
    assert run(check, output, **{key: value}).passed


def test_raw_compares_the_text_as_it_is():
    assert not run("contains", "I don’t know.", value="don't know", raw=True).passed
    assert run("contains", "I don’t know.", value="don’t know", raw=True).passed
