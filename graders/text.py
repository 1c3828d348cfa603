"""Checks on the text of one output: equality, substrings, patterns and length."""

from __future__ import annotations

import gettext
from typing import TYPE_CHECKING

from pydantic import ValidationInfo, field_validator

from graders import _regex
from graders._text import Needle, plain, quote, words
from graders.registry import CheckContext, CheckResult, Params, register

if TYPE_CHECKING:
    import regex


class Value(Params):
    value: Needle
    raw: bool = False  # compare the text as it is, without reading typographic variants as plain

    def texts(self, output: str) -> tuple[str, str]:
        """The output and the value as compared."""
        return (output, self.value) if self.raw else (plain(output), plain(self.value))


class Count(Params):
    value: int

    @field_validator("value")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value


@register("equals", Value)
def equals(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output equals `value` (surrounding white space ignored)."""
    t = ctx.tr
    text, value = p.texts(output)
    if text.strip() == value.strip():
        return CheckResult.ok(t.gettext("The output is exactly {value}.").format(value=quote(p.value)))
    return CheckResult.fail(t.gettext("The output is {output}, not exactly {value}.").format(output=quote(output), value=quote(p.value)))


@register("contains", Value)
def contains(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains `value` (case matters)."""
    t = ctx.tr
    text, value = p.texts(output)
    if value in text:
        return CheckResult.ok(t.gettext("The output contains {value}.").format(value=quote(p.value)))
    if value.casefold() in text.casefold():
        return CheckResult.fail(t.gettext("The output does not contain {value} (it does with other capitals).").format(value=quote(p.value)))
    return CheckResult.fail(t.gettext("The output does not contain {value}.").format(value=quote(p.value)))


@register("icontains", Value)
def icontains(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains `value`, ignoring case."""
    t = ctx.tr
    text, value = p.texts(output)
    if value.casefold() in text.casefold():
        return CheckResult.ok(t.gettext("The output contains {value} (ignoring case).").format(value=quote(p.value)))
    return CheckResult.fail(t.gettext("The output does not contain {value}, even ignoring case.").format(value=quote(p.value)))


@register("starts-with", Value)
def starts_with(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output starts with `value` (leading white space ignored)."""
    t = ctx.tr
    text, value = p.texts(output)
    if text.lstrip().startswith(value):
        return CheckResult.ok(t.gettext("The output starts with {value}.").format(value=quote(p.value)))
    head = output.lstrip()[: max(len(p.value), 20)]
    return CheckResult.fail(t.gettext("The output starts with {start}, not {value}.").format(start=quote(head), value=quote(p.value)))


@register("ends-with", Value)
def ends_with(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output ends with `value` (trailing white space ignored)."""
    t = ctx.tr
    text, value = p.texts(output)
    if text.rstrip().endswith(value.rstrip()):
        return CheckResult.ok(t.gettext("The output ends with {value}.").format(value=quote(p.value)))
    tail = output.rstrip()[-max(len(p.value), 20):]
    return CheckResult.fail(t.gettext("The output ends with {end}, not {value}.").format(end=quote(tail), value=quote(p.value)))


class Values(Params):
    values: list[Needle]
    raw: bool = False  # compare the text as it is, without reading typographic variants as plain

    @field_validator("values")
    @classmethod
    def _not_none(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one value")
        return value

    def found(self, output: str, ignore_case: bool) -> list[bool]:
        """For each value, whether the output contains it."""
        fold = str.casefold if ignore_case else (lambda t: t)
        text = fold(output if self.raw else plain(output))
        return [fold(v if self.raw else plain(v)) in text for v in self.values]


def _listing(values: list[str]) -> str:
    return ", ".join(quote(v, 30) for v in values)


def _any(output: str, p: Values, ignore_case: bool, t: gettext.NullTranslations) -> CheckResult:
    found = [v for v, hit in zip(p.values, p.found(output, ignore_case)) if hit]
    n = len(p.values)
    # the accepted wordings are the rubric: a learner reads how many, an author (`lab check`) which
    rule = f"one of {_listing(p.values)}"
    if found:
        said = (t.ngettext("The output contains {value} (ignoring case), the {n} wording this criterion looks for.",
                           "The output contains {value} (ignoring case), one of the {n} wordings this criterion looks for.", n)
                if ignore_case else
                t.ngettext("The output contains {value}, the {n} wording this criterion looks for.",
                           "The output contains {value}, one of the {n} wordings this criterion looks for.", n))
        return CheckResult.ok(said.format(value=quote(found[0], 30), n=n), rule=rule)
    said = (t.ngettext("The output does not contain the {n} wording this criterion looks for, even ignoring case.",
                       "The output contains none of the {n} wordings this criterion looks for, even ignoring case.", n)
            if ignore_case else
            t.ngettext("The output does not contain the {n} wording this criterion looks for.",
                       "The output contains none of the {n} wordings this criterion looks for.", n))
    return CheckResult.fail(said.format(n=n), rule=rule)


def _all(output: str, p: Values, ignore_case: bool, t: gettext.NullTranslations) -> CheckResult:
    hits = p.found(output, ignore_case)
    missing = [v for v, hit in zip(p.values, hits) if not hit]
    n = len(p.values)
    if not missing:
        said = (t.ngettext("The output contains the {n} phrase this criterion looks for (ignoring case).",
                           "The output contains all {n} phrases this criterion looks for (ignoring case).", n)
                if ignore_case else
                t.ngettext("The output contains the {n} phrase this criterion looks for.",
                           "The output contains all {n} phrases this criterion looks for.", n))
        return CheckResult.ok(said.format(n=n), rule=f"all of {_listing(p.values)}")
    said = (t.ngettext("The output has {found} of the {n} phrase this criterion looks for (ignoring case).",
                       "The output has {found} of the {n} phrases this criterion looks for (ignoring case).", n)
            if ignore_case else
            t.ngettext("The output has {found} of the {n} phrase this criterion looks for.",
                       "The output has {found} of the {n} phrases this criterion looks for.", n))
    return CheckResult.fail(said.format(found=sum(hits), n=n), score=sum(hits) / n, rule=f"missing {_listing(missing)}")


@register("contains-any", Values)
def contains_any(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains at least one of `values` (case matters)."""
    return _any(output, p, ignore_case=False, t=ctx.tr)


@register("icontains-any", Values)
def icontains_any(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains at least one of `values`, ignoring case."""
    return _any(output, p, ignore_case=True, t=ctx.tr)


@register("contains-all", Values)
def contains_all(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains every one of `values` (case matters); scores the share present."""
    return _all(output, p, ignore_case=False, t=ctx.tr)


@register("icontains-all", Values)
def icontains_all(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains every one of `values`, ignoring case; scores the share present."""
    return _all(output, p, ignore_case=True, t=ctx.tr)


class Pattern(Params):
    flags: str = ""  # before `pattern`: `x` (verbose) changes how the pattern reads, so it is checked with them
    pattern: Needle
    raw: bool = False  # match the text as it is, without reading typographic variants as plain

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        unknown = sorted(set(value) - set(_regex.FLAG_NAMES))
        if unknown:
            raise ValueError(f"has unknown regex flag(s) {''.join(unknown)!r}; use letters from 'imsxa'")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str, info: ValidationInfo) -> str:
        problem = _regex.syntax_problem(value, info.data.get("flags", ""))
        if problem:
            raise ValueError(problem)
        return value

    def search(self, output: str) -> regex.Match[str] | None:
        """The first match in `output`; raises `_regex.RegexTimeout` past the time bound."""
        flags = _regex.flags_of(self.flags)
        # typographic apostrophes and quotes are no regex syntax, so reading them as plain is safe
        return _regex.search(self.pattern if self.raw else plain(self.pattern), output if self.raw else plain(output), flags)


def timed_out(t: gettext.NullTranslations, **details: object) -> CheckResult:
    """The criterion a trainer's pattern could not decide within the time bound: ungraded, with why."""
    return CheckResult.not_graded(t.gettext("This criterion's pattern took more than {seconds} s on this output, so it was not graded "
                                            "(the exercise's author should simplify the pattern).").format(seconds=f"{_regex.SEARCH_SECONDS:g}"),
                                  **details)


@register("regex", Pattern)
def regex_check(output: str, p: Pattern, ctx: CheckContext) -> CheckResult:
    """Passes when the pattern matches somewhere in the output (Python `re.search`, with a time bound)."""
    t = ctx.tr
    # a pattern means nothing to most learners and gives the rule away: it is for the author's view
    rule = f"/{p.pattern}/{p.flags}"
    try:
        match = p.search(output)
    except _regex.RegexTimeout:
        return timed_out(t, rule=rule)
    if match:
        return CheckResult.ok(t.gettext("The output has what this criterion looks for, at {excerpt}.").format(excerpt=quote(match.group(0), 40)),
                              rule=rule)
    return CheckResult.fail(t.gettext("The output does not have what this criterion looks for."), rule=rule)


@register("min-words", Count)
def min_words(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the output has at least `value` words; partial credit below that."""
    t = ctx.tr
    n = words(output)
    if n >= p.value:
        return CheckResult.ok(t.ngettext("The output has {n} word (at least {limit} needed).",
                                         "The output has {n} words (at least {limit} needed).", n).format(n=n, limit=p.value))
    return CheckResult.fail(t.ngettext("The output has {n} word; at least {limit} are needed.",
                                       "The output has {n} words; at least {limit} are needed.", n).format(n=n, limit=p.value),
                            score=n / p.value)


@register("max-words", Count)
def max_words(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the output has at most `value` words; partial credit above that."""
    t = ctx.tr
    n = words(output)
    if n <= p.value:
        return CheckResult.ok(t.ngettext("The output has {n} word (at most {limit} allowed).",
                                         "The output has {n} words (at most {limit} allowed).", n).format(n=n, limit=p.value))
    return CheckResult.fail(t.ngettext("The output has {n} word; at most {limit} are allowed.",
                                       "The output has {n} words; at most {limit} are allowed.", n).format(n=n, limit=p.value),
                            score=p.value / n)


@register("max-chars", Count)
def max_chars(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the output has at most `value` characters (surrounding white space ignored)."""
    t = ctx.tr
    n = len(output.strip())
    if n <= p.value:
        return CheckResult.ok(t.ngettext("The output has {n} character (at most {limit} allowed).",
                                         "The output has {n} characters (at most {limit} allowed).", n).format(n=n, limit=p.value))
    return CheckResult.fail(t.ngettext("The output has {n} character; at most {limit} are allowed.",
                                       "The output has {n} characters; at most {limit} are allowed.", n).format(n=n, limit=p.value),
                            score=p.value / n)


@register("prompt-max-words", Count)
def prompt_max_words(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the learner's own text, as rendered for the case, has at most `value` words (a brevity budget)."""
    t = ctx.tr
    if ctx.attempt is None:
        return CheckResult.not_graded(t.gettext("The learner's text was not given to this check, so its length cannot be counted."))
    n = words(ctx.attempt)
    if n <= p.value:
        return CheckResult.ok(t.ngettext("Your text has {n} word (at most {limit} allowed).",
                                         "Your text has {n} words (at most {limit} allowed).", n).format(n=n, limit=p.value))
    return CheckResult.fail(t.ngettext("Your text has {n} word; at most {limit} are allowed.",
                                       "Your text has {n} words; at most {limit} are allowed.", n).format(n=n, limit=p.value),
                            score=p.value / n)
