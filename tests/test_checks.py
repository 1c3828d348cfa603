"""The deterministic checks (graders/text.py, graders/structured.py): edge cases and the reasons a learner reads."""

from __future__ import annotations

from typing import Any

import pytest
from fixtures.exercise_files import minimal, write_exercise
from pydantic import ValidationError

from graders import CheckContext, CheckResult, get_check
from lab.errors import ExerciseError
from lab.format.loader import load_exercise


def run(check: str, output: str, **params: Any) -> CheckResult:
    found = get_check(check)
    return found.fn(output, found.params.model_validate(params), CheckContext())


def params_error(check: str, **params: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        get_check(check).params.model_validate(params)
    return str(caught.value)


# ------------------------------------------------------------------ equals / contains / icontains / starts-with


def test_equals_ignores_surrounding_white_space():
    r = run("equals", "  billing \n", value="billing")
    assert (r.score, r.passed, r.reason) == (1.0, True, "The output is exactly “billing”.")


def test_equals_keeps_inner_differences():
    r = run("equals", "billing.", value="billing")
    assert (r.score, r.passed) == (0.0, False)
    assert r.reason == "The output is “billing.”, not exactly “billing”."


def test_contains_is_case_sensitive_and_says_when_capitals_differ():
    r = run("contains", "Hello World", value="world")
    assert not r.passed
    assert r.reason == "The output does not contain “world” (it does with other capitals)."


def test_contains_without_hint_when_absent():
    assert run("contains", "Hello World", value="planet").reason == "The output does not contain “planet”."
    assert run("contains", "Hello World", value="World").passed


@pytest.mark.parametrize(("output", "value"), [("STRASSE", "straße"), ("ÉCOLE NORMALE", "école"), ("ΣΟΦΙΑ", "σοφια")])
def test_icontains_folds_unicode_case(output: str, value: str):
    r = run("icontains", output, value=value)
    assert r.passed and r.reason == f"The output contains “{value}” (ignoring case)."


def test_icontains_failure_reason():
    assert run("icontains", "nothing", value="Paris").reason == "The output does not contain “Paris”, even ignoring case."


def test_starts_with_ignores_leading_white_space():
    assert run("starts-with", "\n   Dear Ana,", value="Dear").passed


def test_starts_with_failure_quotes_the_start():
    r = run("starts-with", "Hi Ana, thanks", value="Dear")
    assert not r.passed and r.reason == "The output starts with “Hi Ana, thanks”, not “Dear”."


# ------------------------------------------------------------------ regex


def test_regex_searches_anywhere_without_flags():
    result = run("regex", "Total: 42 items", pattern=r"\d+")
    assert (result.reason, result.details) == ("The output has what this criterion looks for, at “42”.", {"rule": "/\\d+/"})
    assert not run("regex", "Hello\nworld", pattern="^world$").passed


@pytest.mark.parametrize(("flags", "output", "pattern"), [("m", "Hello\nworld", "^world$"), ("i", "HELLO", "hello"),
                                                         ("s", "a\nb", "a.b"), ("x", "ab", "a b  # spaced")])
def test_regex_flags(flags: str, output: str, pattern: str):
    assert not run("regex", output, pattern=pattern).passed
    assert run("regex", output, pattern=pattern, flags=flags).passed


def test_regex_failure_reason_keeps_the_pattern_for_the_author():
    # a learner reads a plain reason; the pattern is the rule, shown by `lab check` (details["rule"])
    result = run("regex", "nope", pattern="^yes", flags="i")
    assert (result.reason, result.details) == ("The output does not have what this criterion looks for.", {"rule": "/^yes/i"})


def test_invalid_regex_is_rejected_when_the_params_are_loaded():
    assert "is not a valid regular expression: missing ), unterminated subpattern" in params_error("regex", pattern="([a-z]+")


def test_unknown_regex_flag_is_rejected():
    assert "has unknown regex flag(s) 'q'; use letters from 'imsxa'" in params_error("regex", pattern="a", flags="iq")


# ------------------------------------------------------------------ word and character counts


def test_min_words_gives_partial_credit():
    r = run("min-words", "one two three", value=4)
    assert (r.score, r.passed) == (0.75, False)
    assert r.reason == "The output has 3 words; at least 4 are needed."
    assert run("min-words", "one two three four", value=4).reason == "The output has 4 words (at least 4 needed)."


def test_min_words_of_empty_output_scores_zero():
    assert run("min-words", "   ", value=4).score == 0.0


def test_max_words_gives_partial_credit():
    r = run("max-words", "a b c d e f", value=3)
    assert (r.score, r.passed) == (0.5, False)
    assert r.reason == "The output has 6 words; at most 3 are allowed."
    assert run("max-words", "one", value=3).reason == "The output has 1 word (at most 3 allowed)."


def test_max_chars_ignores_surrounding_white_space_and_scores_partially():
    assert run("max-chars", "  abcd \n", value=4).passed
    r = run("max-chars", "abcdefgh", value=4)
    assert (r.score, r.passed, r.reason) == (0.5, False, "The output has 8 characters; at most 4 are allowed.")


def test_counts_must_not_be_negative():
    assert "must be 0 or more" in params_error("max-words", value=-1)


# ------------------------------------------------------------------ json


def test_json_valid():
    assert run("json", ' {"a": [1, 2]} ').reason == "The output is valid JSON."


def test_json_invalid_says_where():
    r = run("json", '{"a": 1,}')
    assert not r.passed
    assert r.reason == "The output is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 9)."


def test_json_in_a_code_fence_is_refused_with_the_reason():
    r = run("json", '```json\n{"a": 1}\n```')
    assert not r.passed
    assert r.reason == "The output wraps the JSON in a Markdown code fence; a program reading it needs the JSON alone."


SCHEMA = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "integer"}}}}


def test_json_schema_failure_names_the_path():
    r = run("json", '{"items": [1, "two"]}', schema=SCHEMA)
    assert r.reason == "The output does not fit the schema at $.items[1]: 'two' is not of type 'integer'."
    assert run("json", '{"items": [1, 2]}', schema=SCHEMA).reason == "The output is valid JSON and fits the schema."


def test_json_schema_missing_key_is_reported_at_the_root():
    assert run("json", "{}", schema=SCHEMA).reason == "The output does not fit the schema at $: 'items' is a required property."


def test_invalid_schema_is_rejected_when_the_params_are_loaded():
    assert "is not a valid JSON Schema: 'strin' is not valid under any of the given schemas" in params_error("json", schema={"type": "strin"})


def test_json_lines_checks_every_line_with_partial_credit():
    ok = run("json", '{"a": 1}\n\n{"a": 2}\n', lines=True, schema={"type": "object"})
    assert ok.passed and ok.reason == "All 2 lines are valid JSON documents that fit the schema."
    r = run("json", '{"a": 1}\nnope\n{"a": 2}\n[1]', lines=True, schema={"type": "object"})
    assert (r.score, r.passed) == (0.5, False)
    assert r.reason == "Line 2 is not valid JSON (Expecting value at line 1, column 1) (2 of 4 lines have problems)."


def test_json_lines_of_nothing_fails():
    assert run("json", "  \n", lines=True).reason == "The output has no JSON lines."


# ------------------------------------------------------------------ choice


@pytest.mark.parametrize("output", ["billing", " billing.\n", "billing ."])
def test_choice_ignores_white_space_and_a_trailing_full_stop(output: str):
    assert run("choice", output, values=["billing", "bug"]).passed


def test_choice_reads_text_as_the_text_checks_do():
    # "é" written as e + combining accent, a typographic apostrophe: the same choice on screen, the same here
    assert run("choice", "re\u0301silie\u0301", values=["résilié", "actif"]).passed
    assert run("choice", "don’t know", values=["don't know", "yes"]).passed
    assert run("choice", "résilié", values=["re\u0301silie\u0301"]).passed


def test_choice_case_near_miss_names_the_allowed_spelling():
    r = run("choice", "Billing.", values=["billing", "bug"])
    assert not r.passed and r.reason == "The output is “Billing”; the allowed spelling is “billing”."


def test_choice_with_extra_words_fails():
    r = run("choice", "billing, I think", values=["billing", "bug"])
    assert r.reason == "The output is “billing, I think”, which is not one of “billing”, “bug”; answer with one of them alone."


def test_choice_needs_values():
    assert "needs at least one value" in params_error("choice", values=[])


# ------------------------------------------------------------------ numbers-from


@pytest.mark.parametrize(("output", "source"), [
    ("Revenue was 1,234,567 euros.", "revenue: 1234567"),  # thousands separators
    ("Es waren 1.234.567 Euro.", "1234567"),
    ("1 234 567 units", "1234567"),
    ("The tank holds 3,5 litres.", "capacity 3.5 l"),  # decimal comma
    ("Sales: 1.234,5", "1,234.5"),
    ("Growth was 12.3%.", "growth 12.34 %"),  # rounding
    ("About 1,235 people.", "1,234.56 people"),
    ("It scored 13.", "score 12.5"),
    ("Margin: 45%", "margin 45 percent"),  # percentages
    ("It was -5 °C.", "temperature −5"),
    ("Nothing to count.", "42"),
])
def test_numbers_from_accepts_figures_from_the_source(output: str, source: str):
    r = run("numbers-from", output, source=source)
    assert r.passed, r.reason


def test_numbers_from_ignores_list_markers():
    r = run("numbers-from", "1. Paris has 42 stops\n2) Lyon has 7\n", source="Paris 42, Lyon 7")
    assert r.passed and r.reason == "All 2 numbers in the output come from the data."


def test_numbers_from_lists_the_unknown_numbers():
    r = run("numbers-from", "Sales were 99, then 13, then 12 and 99 again.", source="sales 12")
    assert r.score == pytest.approx(1 / 4)
    assert r.reason == "The output uses 99, 13, which the data does not contain; use only figures from the data."


def test_numbers_from_does_not_take_a_decimal_for_thousands():
    assert not run("numbers-from", "It costs 0,123 a unit.", source="123 units").passed


def test_numbers_from_ignore_list():
    assert run("numbers-from", "Top 3: 42", source="42", ignore=[3]).passed


def test_numbers_from_single_number_reason():
    assert run("numbers-from", "It is 42.", source="42").reason == "The one number in the output, 42, comes from the data."


# ------------------------------------------------------------------ parameters are checked when the exercise loads


@pytest.mark.parametrize(("criterion", "key", "message"), [
    ({"check": "json", "schema": {"type": "strin"}}, "schema",
     "criterion 'c': parameter 'schema' is not a valid JSON Schema: 'strin' is not valid under any of the given schemas"),
    ({"check": "regex", "pattern": "a", "flags": "iq"}, "flags",
     "criterion 'c': parameter 'flags' has unknown regex flag(s) 'q'; use letters from 'imsxa'"),
    ({"check": "max-words", "value": "many"}, "value",
     "criterion 'c': parameter 'value': Input should be a valid integer, unable to parse string as an integer"),
])
def test_bad_parameters_are_rejected_at_load_with_the_line(tmp_path, criterion, key, message):
    path = write_exercise(tmp_path, "e.j2", minimal(rubric={"criteria": [{"id": "c", **criterion}]}))
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path)
    [problem] = caught.value.problems
    assert problem.message == message
    lines = path.read_text(encoding="utf-8").splitlines()
    assert problem.line == next(n for n, line in enumerate(lines, 1) if line.startswith(f"    {key}:"))
