"""Checks on structured answers: JSON (with a schema), a fixed choice, numbers taken from data."""

from __future__ import annotations

import gettext
import json
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pydantic import field_validator

from graders import _regex
from graders._text import plain, quote
from graders.registry import CheckContext, CheckResult, Params, register


class JsonParams(Params):
    schema_: dict[str, Any] | bool | None = None
    lines: bool = False  # JSON Lines: every non-blank line is one document

    model_config = Params.model_config | {"populate_by_name": True}

    def __init__(self, **data: Any):
        if "schema" in data:
            data["schema_"] = data.pop("schema")
        super().__init__(**data)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | bool | None) -> dict[str, Any] | bool | None:
        if value is None:
            return value
        problem = _schema_problem(json.dumps(value, sort_keys=True))
        if problem:
            raise ValueError(f"is not a valid JSON Schema: {problem}")
        return value


@lru_cache(maxsize=256)
def _schema_problem(schema_json: str) -> str | None:
    """Why a schema is invalid, or None. Cached: checking against the meta-schema is slow, and the
    params of a criterion are validated once per case."""
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    schema = json.loads(schema_json)
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    for pattern in _schema_patterns(schema):
        problem = _regex.syntax_problem(pattern)
        if problem:
            return f"the pattern {pattern!r} {problem}"
    if _both_keywords(schema, "patternProperties", "unevaluatedProperties"):
        # jsonschema runs those patterns itself, with no time bound: refused rather than left to hang a class
        return ("`unevaluatedProperties` beside `patternProperties` is not supported (their patterns could not run with a time bound); "
                "use `additionalProperties` instead")
    return None


def _subschemas(schema: Any) -> Any:
    """Every mapping inside a schema (itself included), depth first."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _schema_patterns(schema: Any) -> list[str]:
    found: list[str] = []
    for node in _subschemas(schema):
        if isinstance(node.get("pattern"), str):
            found.append(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            found += [k for k in node["patternProperties"] if isinstance(k, str)]
    return found


def _both_keywords(schema: Any, first: str, second: str) -> bool:
    nodes = list(_subschemas(schema))
    return any(first in n for n in nodes) and any(second in n for n in nodes)


def _bounded_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _bounded_pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _regex.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _bounded_additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Any:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in instance if k not in known and not any(_regex.search(p, k) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(e) for e in sorted(extras))
        if patterns:
            yield ValidationError(f"{listed} {'does' if len(extras) == 1 else 'do'} not match any of the regexes: "
                                  + ", ".join(repr(p) for p in sorted(patterns)))
        else:
            yield ValidationError(f"Additional properties are not allowed ({listed} {'was' if len(extras) == 1 else 'were'} unexpected)")


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a usable JSON Schema (one clause), or None: the meta-schema, and patterns that can run
    with a time bound. Tools' `parameters` (lab/format/tools.py) are checked with it too."""
    try:
        text = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError) as exc:
        return f"it cannot be read as JSON ({exc})"
    return _schema_problem(text)


def schema_violation(schema: Any, document: Any) -> tuple[str, str] | None:
    """(JSON path, problem) of the most telling way `document` breaks `schema`, or None when it fits.
    Raises `graders._regex.RegexTimeout` when a pattern of the schema runs past its time bound."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema).iter_errors(document))
    return None if error is None else (_json_path(error.absolute_path), str(error.message))


def _validator(schema: Any) -> Any:
    """jsonschema's validator for `schema`, whose patterns run with the time bound of trainers' regexes."""
    from jsonschema import validators

    base = validators.validator_for(schema)
    bounded = validators.extend(base, {"pattern": _bounded_pattern, "patternProperties": _bounded_pattern_properties,
                                       "additionalProperties": _bounded_additional_properties})
    return bounded(schema, format_checker=format_checker())


_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class _NotJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; no other JSON reader does, so a program would choke on them
    raise _NotJsonNumber(f"{name} is not a JSON number; JSON has no NaN or Infinity")


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\\\"<>^`{|}]+$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    from datetime import datetime

    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


@lru_cache(maxsize=1)
def format_checker() -> Any:
    """jsonschema's format checker, with `date-time` and `uri` added (jsonschema checks those only
    with optional packages; these two are the formats trainers use most)."""
    from jsonschema import FormatChecker

    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    checker.checks("uri")(_is_uri)
    return checker


def _check_document(text: str, p: JsonParams, t: gettext.NullTranslations) -> str | None:
    """None when `text` is valid; otherwise why not (the parser's and the schema's own words stay English)."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return t.gettext("is not valid JSON ({problem} at line {line}, column {column})").format(
            problem=exc.msg, line=exc.lineno, column=exc.colno)
    except _NotJsonNumber as exc:
        return t.gettext("is not valid JSON ({problem})").format(problem=exc)
    if p.schema_ is None:
        return None
    from jsonschema.exceptions import best_match

    error = best_match(_validator(p.schema_).iter_errors(document))
    if error is None:
        return None
    return t.gettext("does not fit the schema at {path}: {problem}").format(path=_json_path(error.absolute_path), problem=error.message)


def _timed_out(t: gettext.NullTranslations) -> CheckResult:
    return CheckResult.not_graded(t.gettext("A pattern of this criterion's schema took more than {seconds} s on this output, so it was not "
                                            "graded (the exercise's author should simplify the pattern).").format(
                                                seconds=f"{_regex.SEARCH_SECONDS:g}"))


@register("json", JsonParams)
def json_check(output: str, p: JsonParams, ctx: CheckContext) -> CheckResult:
    """Passes when the output is valid JSON, valid against `schema` when one is given (`lines: true` for JSONL)."""
    t = ctx.tr
    text = output.strip()
    if _FENCE.match(text):
        return CheckResult.fail(t.gettext("The output wraps the JSON in a Markdown code fence; a program reading it needs the JSON alone."))
    if p.lines:
        rows = [line for line in text.splitlines() if line.strip()]
        if not rows:
            return CheckResult.fail(t.gettext("The output has no JSON lines."))
        try:
            problems = [(i, why) for i, row in enumerate(rows, 1) if (why := _check_document(row, p, t))]
        except _regex.RegexTimeout:
            return _timed_out(t)
        n = len(rows)
        if not problems:
            said = (t.ngettext("The {n} line is a valid JSON document that fits the schema.",
                               "All {n} lines are valid JSON documents that fit the schema.", n) if p.schema_ else
                    t.ngettext("The {n} line is a valid JSON document.", "All {n} lines are valid JSON documents.", n))
            return CheckResult.ok(said.format(n=n))
        line, why = problems[0]
        if len(problems) > 1:
            said = t.gettext("Line {line} {why} ({bad} of {n} lines have problems).")
        else:
            said = t.gettext("Line {line} {why}.")
        return CheckResult.fail(said.format(line=line, why=why, bad=len(problems), n=n), score=1 - len(problems) / n)
    try:
        why = _check_document(text, p, t)
    except _regex.RegexTimeout:
        return _timed_out(t)
    if why is None:
        return CheckResult.ok(t.gettext("The output is valid JSON and fits the schema.") if p.schema_ else t.gettext("The output is valid JSON."))
    return CheckResult.fail(t.gettext("The output {why}.").format(why=why))


class ChoiceParams(Params):
    values: list[str]

    @field_validator("values")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one value")
        return value


def _normalise_choice(text: str) -> str:
    # as the text checks read text: "é" typed as e + accent, or a typographic apostrophe, is the same choice
    text = plain(text).strip()
    return text[:-1].rstrip() if text.endswith(".") else text


@register("choice", ChoiceParams)
def choice(output: str, p: ChoiceParams, ctx: CheckContext) -> CheckResult:
    """Passes when the output is exactly one of `values` (white space and a trailing full stop ignored; accents and apostrophes compared as the text checks compare them)."""
    t = ctx.tr
    answer = _normalise_choice(output)
    allowed = {_normalise_choice(v) for v in p.values}
    options = ", ".join(quote(v, 30) for v in p.values)
    if answer in allowed:
        return CheckResult.ok(t.gettext("The output is {answer}, one of {options}.").format(answer=quote(answer), options=options))
    near = [v for v in p.values if _normalise_choice(v).casefold() == answer.casefold()]
    if near:
        return CheckResult.fail(t.gettext("The output is {answer}; the allowed spelling is {spelling}.").format(
            answer=quote(answer), spelling=quote(near[0])))
    return CheckResult.fail(t.gettext("The output is {answer}, which is not one of {options}; answer with one of them alone.").format(
        answer=quote(answer), options=options))


class NumbersParams(Params):
    source: str
    ignore: list[float] = []


_VULGAR = {chr(c): c for c in [*range(0xBC, 0xBF), *range(0x2150, 0x215F)]}
_VULGAR_CLASS = "\u00bc-\u00be\u2150-\u215e"
_NUMBER = re.compile(
    r"(?<![\w.,])[-+−]?"
    # a space joins thousands only in groups of exactly three after a first group of one to three:
    # "10 000" is one figure, "In 2023 400 units" two
    r"(?:\d{1,3}(?:[\u00a0\u202f ]\d{3}(?!\d))+(?:[.,]\d+)?|\d+(?:[.,]\d+)*)"
    r"(?:[eE][-+]?\d+(?![\w]))?"
    rf"[{_VULGAR_CLASS}]?"
    rf"|(?<![\w.,])[-+−]?[{_VULGAR_CLASS}]"
)
_LIST_MARKER = re.compile(r"^\s*\d+[.)]\s", re.MULTILINE)


@dataclass(frozen=True)
class Figure:
    """A number as written in a text: its token, value, whether a sign was written, and whether it is
    a fraction (which a source can only give rounded: ⅔ for 0.67)."""

    token: str
    value: Decimal
    signed: bool = False
    fraction: bool = False


def _to_decimal(token: str) -> Decimal | None:
    token = token.replace("−", "-").replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    fraction = Decimal(0)
    if token and token[-1] in _VULGAR:
        fraction = Decimal(str(unicodedata.numeric(token[-1])))
        token = token[:-1]
        if token in ("", "-", "+"):
            token += "0"
    if "," in token and "." in token:
        # the later separator is the decimal one: 1,234.5 (English) or 1.234,5 (French, German)
        if token.rfind(",") > token.rfind("."):
            token = token.replace(".", "").replace(",", ".")
        else:
            token = token.replace(",", "")
    elif "," in token or token.count(".") > 1:
        mark = "," if "," in token else "."
        groups = token.split(mark)
        lead = groups[0].lstrip("-+")
        if len(groups) > 2 or (all(len(g) == 3 for g in groups[1:]) and lead != "0" and len(lead) <= 3):
            token = token.replace(mark, "")  # thousands: 1,234 or 12,345,678 or 1.234.567
        else:
            token = token.replace(",", ".")  # decimal comma: 3,5
    try:
        whole = Decimal(token)
    except InvalidOperation:
        return None
    return whole - fraction if whole.is_signed() else whole + fraction


def figures_in(text: str, skip_list_markers: bool = False) -> tuple[list[Figure], list[str]]:
    """The figures of a text, and the tokens that look like figures but cannot be read."""
    if skip_list_markers:
        text = _LIST_MARKER.sub(lambda m: " " * len(m.group(0)), text)
    found, unreadable = [], []
    for match in _NUMBER.finditer(text):
        token, after = match.group(0), text[match.end(): match.end() + 1]
        value = _to_decimal(token)
        if value is None or (after and unicodedata.category(after) == "No"):
            # glued to another number sign (2⅟, 10², 3₂): never guess what it means
            unreadable.append(token + after if value is not None else token)
        else:
            found.append(Figure(token, value, token[0] in "-+−", token[-1] in _VULGAR))
    return found, unreadable


def _half_unit(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 0
    return Decimal(1).scaleb(-max(places, 0)) / 2


def _matches(figure: Figure, source: set[Decimal]) -> bool:
    value = figure.value
    # an unsigned figure may carry its sign in words ("fell 11.1%" for -11.1%), so it is compared by
    # magnitude; a written sign must agree with the source's (unsigned there reads as positive)
    def close(s: Decimal, tolerance: Decimal) -> bool:
        if figure.signed:
            return abs(s - value) <= tolerance
        return abs(abs(s) - abs(value)) <= tolerance

    if figure.fraction:
        # the source gives a fraction exactly or rounded to its decimals: ⅔ matches 0.67, never 1
        return any(close(s, _half_unit(s) if _half_unit(s) < Decimal("0.5") else Decimal(0)) for s in source)
    # a rounded figure counts: 12.3 for 12.34, 1,235 for 1,234.56, 13 (or 12) for 12.5
    return any(close(s, _half_unit(value)) for s in source)


@register("numbers-from", NumbersParams)
def numbers_from(output: str, p: NumbersParams, ctx: CheckContext) -> CheckResult:
    """Passes when every number in the output appears in `source` (rounding allowed; list markers ignored)."""
    t = ctx.tr
    source = {f.value for f in figures_in(p.source)[0]} | {Decimal(str(v)) for v in p.ignore}
    used, unreadable = figures_in(output, skip_list_markers=True)
    if unreadable:
        shown = ", ".join(dict.fromkeys(unreadable[:5]))
        return CheckResult.fail(
            t.gettext("The output writes {figures} in a form this check cannot read; write figures in digits (2.5, not 2⅟2).").format(figures=shown),
            score=len(used) / (len(used) + len(unreadable)) if used else 0.0,
        )
    if not used:
        return CheckResult.ok(t.gettext("The output uses no numbers, so none can be wrong."))
    unknown = [f.token for f in used if not _matches(f, source)]
    if not unknown:
        if len(used) == 1:
            return CheckResult.ok(t.gettext("The one number in the output, {figure}, comes from the data.").format(figure=used[0].token))
        return CheckResult.ok(t.ngettext("All {n} number in the output come from the data.",
                                         "All {n} numbers in the output come from the data.", len(used)).format(n=len(used)))
    shown = ", ".join(dict.fromkeys(unknown[:5]))
    return CheckResult.fail(
        t.gettext("The output uses {figures}, which the data does not contain; use only figures from the data.").format(figures=shown),
        score=1 - len(unknown) / len(used),
    )
