"""Checks on the text of one output: equality, substrings, patterns and length."""

from __future__ import annotations

import re

from pydantic import field_validator

from graders._text import Needle, plain, plural, quote, words
from graders.registry import CheckContext, CheckResult, Params, register


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
    text, value = p.texts(output)
    if text.strip() == value.strip():
        return CheckResult.ok(f"The output is exactly {quote(p.value)}.")
    return CheckResult.fail(f"The output is {quote(output)}, not exactly {quote(p.value)}.")


@register("contains", Value)
def contains(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains `value` (case matters)."""
    text, value = p.texts(output)
    if value in text:
        return CheckResult.ok(f"The output contains {quote(p.value)}.")
    hint = " (it does with other capitals)" if value.casefold() in text.casefold() else ""
    return CheckResult.fail(f"The output does not contain {quote(p.value)}{hint}.")


@register("icontains", Value)
def icontains(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains `value`, ignoring case."""
    text, value = p.texts(output)
    if value.casefold() in text.casefold():
        return CheckResult.ok(f"The output contains {quote(p.value)} (ignoring case).")
    return CheckResult.fail(f"The output does not contain {quote(p.value)}, even ignoring case.")


@register("starts-with", Value)
def starts_with(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output starts with `value` (leading white space ignored)."""
    text, value = p.texts(output)
    if text.lstrip().startswith(value):
        return CheckResult.ok(f"The output starts with {quote(p.value)}.")
    return CheckResult.fail(f"The output starts with {quote(output.lstrip()[: max(len(p.value), 20)])}, not {quote(p.value)}.")


@register("ends-with", Value)
def ends_with(output: str, p: Value, ctx: CheckContext) -> CheckResult:
    """Passes when the output ends with `value` (trailing white space ignored)."""
    text, value = p.texts(output)
    if text.rstrip().endswith(value.rstrip()):
        return CheckResult.ok(f"The output ends with {quote(p.value)}.")
    tail = output.rstrip()[-max(len(p.value), 20):]
    return CheckResult.fail(f"The output ends with {quote(tail)}, not {quote(p.value)}.")


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


def _any(output: str, p: Values, ignore_case: bool) -> CheckResult:
    found = [v for v, hit in zip(p.values, p.found(output, ignore_case)) if hit]
    case = " (ignoring case)" if ignore_case else ""
    # the accepted wordings are the rubric: a learner reads how many, an author (`lab check`) which
    if found:
        return CheckResult.ok(f"The output contains {quote(found[0], 30)}{case}, one of the {plural(len(p.values), 'wording')} this criterion looks for.",
                              rule=f"one of {_listing(p.values)}")
    even = ", even ignoring case" if ignore_case else ""
    return CheckResult.fail(f"The output contains none of the {plural(len(p.values), 'wording')} this criterion looks for{even}.",
                            rule=f"one of {_listing(p.values)}")


def _all(output: str, p: Values, ignore_case: bool) -> CheckResult:
    hits = p.found(output, ignore_case)
    missing = [v for v, hit in zip(p.values, hits) if not hit]
    case = " (ignoring case)" if ignore_case else ""
    if not missing:
        return CheckResult.ok(f"The output contains all {plural(len(p.values), 'phrase')} this criterion looks for{case}.",
                              rule=f"all of {_listing(p.values)}")
    return CheckResult.fail(
        f"The output has {sum(hits)} of the {plural(len(p.values), 'phrase')} this criterion looks for{case}.",
        score=sum(hits) / len(p.values), rule=f"missing {_listing(missing)}",
    )


@register("contains-any", Values)
def contains_any(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains at least one of `values` (case matters)."""
    return _any(output, p, ignore_case=False)


@register("icontains-any", Values)
def icontains_any(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains at least one of `values`, ignoring case."""
    return _any(output, p, ignore_case=True)


@register("contains-all", Values)
def contains_all(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains every one of `values` (case matters); scores the share present."""
    return _all(output, p, ignore_case=False)


@register("icontains-all", Values)
def icontains_all(output: str, p: Values, ctx: CheckContext) -> CheckResult:
    """Passes when the output contains every one of `values`, ignoring case; scores the share present."""
    return _all(output, p, ignore_case=True)


_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "a": re.ASCII}


class Pattern(Params):
    pattern: Needle
    flags: str = ""
    raw: bool = False  # match the text as it is, without reading typographic variants as plain

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        unknown = sorted(set(value) - set(_FLAGS))
        if unknown:
            raise ValueError(f"has unknown regex flag(s) {''.join(unknown)!r}; use letters from 'imsxa'")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value

    def compiled(self) -> re.Pattern[str]:
        flags = 0
        for letter in self.flags:
            flags |= _FLAGS[letter]
        # typographic apostrophes and quotes are no regex syntax, so reading them as plain is safe
        return re.compile(self.pattern if self.raw else plain(self.pattern), flags)


@register("regex", Pattern)
def regex(output: str, p: Pattern, ctx: CheckContext) -> CheckResult:
    """Passes when the pattern matches somewhere in the output (Python `re.search`)."""
    match = p.compiled().search(output if p.raw else plain(output))
    # a pattern means nothing to most learners and gives the rule away: it is for the author's view
    rule = f"/{p.pattern}/{p.flags}"
    if match:
        return CheckResult.ok(f"The output has what this criterion looks for, at {quote(match.group(0), 40)}.", rule=rule)
    return CheckResult.fail("The output does not have what this criterion looks for.", rule=rule)


@register("min-words", Count)
def min_words(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the output has at least `value` words; partial credit below that."""
    n = words(output)
    if n >= p.value:
        return CheckResult.ok(f"The output has {plural(n, 'word')} (at least {p.value} needed).")
    return CheckResult.fail(f"The output has {plural(n, 'word')}; at least {p.value} are needed.", score=n / p.value)


@register("max-words", Count)
def max_words(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the output has at most `value` words; partial credit above that."""
    n = words(output)
    if n <= p.value:
        return CheckResult.ok(f"The output has {plural(n, 'word')} (at most {p.value} allowed).")
    return CheckResult.fail(f"The output has {plural(n, 'word')}; at most {p.value} are allowed.", score=p.value / n)


@register("max-chars", Count)
def max_chars(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the output has at most `value` characters (surrounding white space ignored)."""
    n = len(output.strip())
    if n <= p.value:
        return CheckResult.ok(f"The output has {plural(n, 'character')} (at most {p.value} allowed).")
    return CheckResult.fail(f"The output has {plural(n, 'character')}; at most {p.value} are allowed.", score=p.value / n)


@register("prompt-max-words", Count)
def prompt_max_words(output: str, p: Count, ctx: CheckContext) -> CheckResult:
    """Passes when the learner's own text, as rendered for the case, has at most `value` words (a brevity budget)."""
    if ctx.attempt is None:
        return CheckResult.not_graded("The learner's text was not given to this check, so its length cannot be counted.")
    n = words(ctx.attempt)
    if n <= p.value:
        return CheckResult.ok(f"Your text has {plural(n, 'word')} (at most {p.value} allowed).")
    return CheckResult.fail(f"Your text has {plural(n, 'word')}; at most {p.value} are allowed.", score=p.value / n)
