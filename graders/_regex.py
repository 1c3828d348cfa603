"""Trainers' regular expressions, run with a time bound.

A trainer's pattern (a `regex` criterion, `consistent`'s `extract`, a JSON Schema's `pattern`) runs
on text a learner can steer: a learner can make the model write the very string that sends a
backtracking pattern into exponential time, and so stall an attempt or a whole class. Patterns are
therefore written in Python's `re` syntax (the format's contract, checked at load) and run by the
`regex` package, whose matcher stops at `timeout=`. It also avoids the textbook blow-ups of nested
quantifiers (`^(a+)+$`) that Python's `re` falls into, so no such pattern needs refusing at load;
what it cannot avoid (an alternation of overlapping choices, `^(a|aa)+$`) meets the time bound,
and the criterion is left ungraded with the reason, never passed or failed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import regex

SEARCH_SECONDS = 1.0  # per search; a sane pattern takes microseconds on a model's answer


class RegexTimeout(Exception):
    """A pattern took longer than `SEARCH_SECONDS` on one text."""

    def __init__(self, pattern: str):
        super().__init__(f"the pattern {pattern!r} took longer than {SEARCH_SECONDS:g} s")
        self.pattern = pattern


def syntax_problem(pattern: str) -> str | None:
    """Why `pattern` is not a Python regular expression (None when it is one)."""
    try:
        re.compile(pattern)
        regex.compile(pattern)
    except (re.error, regex.error) as exc:
        return f"is not a valid regular expression: {exc}"
    return None


@lru_cache(maxsize=1024)
def compiled(pattern: str, flags: int = 0) -> Any:
    """The pattern compiled by `regex` (Python `re` syntax and flags: `regex`'s version 0 keeps them)."""
    return regex.compile(pattern, flags)


def search(pattern: str, text: str, flags: int = 0) -> Any:
    """`re.search`, bounded: raises `RegexTimeout` past `SEARCH_SECONDS`."""
    try:
        return compiled(pattern, flags).search(text, timeout=SEARCH_SECONDS)
    except TimeoutError:
        raise RegexTimeout(pattern) from None
