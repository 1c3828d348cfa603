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

# `regex` is imported where a pattern is compiled, not with this module: the checks load with every exercise
# (`lab list`, `lab validate`, `lab grade`), and most exercises have no pattern; the import took 6 ms of each start
SEARCH_SECONDS = 1.0  # per search; a sane pattern takes microseconds on a model's answer


class RegexTimeout(Exception):
    """A pattern took longer than `SEARCH_SECONDS` on one text."""

    def __init__(self, pattern: str):
        super().__init__(f"the pattern {pattern!r} took longer than {SEARCH_SECONDS:g} s")
        self.pattern = pattern


MAX_UNROLLED = 100_000  # pattern items once fixed repeats are written out: `regex` compiles `(?:a{1000}){1000}` into a million
MAX_NESTING = 100  # groups inside groups: deeper, `regex`'s compiler runs out of Python's stack
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _size_problem(pattern: str) -> str | None:
    """Why compiling `pattern` would take seconds and gigabytes, read off its text before it is compiled: the items
    it holds with each fixed repeat (`{n}`, the least of `{n,m}`) written out, and how deep its groups nest."""
    totals, last, i = [0], 1, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
            last = 1
            totals[-1] += 1
        elif char == "[":  # a class is one item: skip to its end (a `]` first, or escaped, is inside it)
            i += 2 if pattern[i + 1:i + 2] == "]" or pattern[i + 1:i + 3] == "^]" else 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            last = 1
            totals[-1] += 1
        elif char == "(":
            totals.append(0)
            if len(totals) > MAX_NESTING:
                return f"nests groups more than {MAX_NESTING} deep; write it flatter"
        elif char == ")" and len(totals) > 1:
            last = max(totals.pop(), 1)
            totals[-1] += last
        elif char == "{" and (repeat := _REPEAT.match(pattern, i)):
            times = int(repeat.group(1))
            totals[-1] += last * max(times - 1, 0)
            last *= max(times, 1)
            i = repeat.end() - 1
        else:
            last = 1
            totals[-1] += 1
        if totals[-1] > MAX_UNROLLED:
            return (f"repeats more than {MAX_UNROLLED:,} items once its fixed repeats are written out (`{{n}}` inside `{{m}}` "
                    "multiplies); use `+`, `*` or a range `{n,m}` with a small least count")
        i += 1
    return None


def syntax_problem(pattern: str) -> str | None:
    """Why `pattern` is not a Python regular expression a check can run (None when it is one)."""
    import regex

    too_big = _size_problem(pattern)
    if too_big:
        return too_big
    try:
        re.compile(pattern)
        regex.compile(pattern)
    except (re.error, regex.error) as exc:
        return f"is not a valid regular expression: {exc}"
    except (RecursionError, MemoryError, OverflowError) as exc:
        return f"cannot be compiled here ({type(exc).__name__}); write a smaller pattern"
    return None


@lru_cache(maxsize=1024)
def compiled(pattern: str, flags: int = 0) -> Any:
    """The pattern compiled by `regex` (Python `re` syntax and flags: `regex`'s version 0 keeps them)."""
    import regex

    return regex.compile(pattern, flags)


FLAG_NAMES = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE", "a": "ASCII"}  # a criterion's `flags` letters


def flags_of(letters: str) -> int:
    """`regex`'s flags for a criterion's letters (each one of FLAG_NAMES)."""
    import regex

    flags = 0
    for letter in letters:
        flags |= getattr(regex, FLAG_NAMES[letter])
    return flags


def search(pattern: str, text: str, flags: int = 0) -> Any:
    """`re.search`, bounded: raises `RegexTimeout` past `SEARCH_SECONDS`."""
    try:
        return compiled(pattern, flags).search(text, timeout=SEARCH_SECONDS)
    except TimeoutError:
        raise RegexTimeout(pattern) from None
