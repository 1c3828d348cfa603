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


class _TooBig(Exception):
    pass


class _TooDeep(Exception):
    pass


def _items(tree: Any, depth: int) -> int:
    """The items of a parsed pattern (re's own parser, as `re.compile` reads it) with each fixed repeat written out
    (`{n}`, the least of `{n,m}`: what `regex` compiles); `_TooBig` / `_TooDeep` past the bounds."""
    from re import _constants as c

    if depth > MAX_NESTING:
        raise _TooDeep
    total = 0
    for op, av in tree:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            total += max(av[0], 1) * _items(av[2], depth + 1)
        elif op is c.SUBPATTERN:
            total += _items(av[3], depth + 1)
        elif op is c.ATOMIC_GROUP:
            total += _items(av, depth + 1)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            total += _items(av[1], depth + 1)
        elif op is c.BRANCH:
            total += sum(_items(branch, depth + 1) for branch in av[1])
        elif op is c.GROUPREF_EXISTS:
            total += _items(av[1], depth + 1) + (_items(av[2], depth + 1) if av[2] else 0)
        else:
            total += 1
        if total > MAX_UNROLLED:
            raise _TooBig
    return total


def _depth(pattern: str) -> int:
    """How deep the pattern's groups nest, read off its text: Python's parser folds a group of one item into its
    parent, but `regex`'s compiler recurses into each (a misreading here only loses this message: the compiler's
    RecursionError is caught too)."""
    depth = deepest = i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":  # a class: to its end (a `]` first, or after `^`, is inside it)
            i += 1
            i += 1 if pattern[i:i + 1] == "^" else 0
            i += 1 if pattern[i:i + 1] == "]" else 0
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _re_flags(letters: str) -> int:
    flags = 0
    for letter in letters:
        flags |= getattr(re, FLAG_NAMES[letter])
    return flags


def syntax_problem(pattern: str, letters: str = "") -> str | None:
    """Why `pattern` (with a criterion's `flags` letters) is not a Python regular expression a check can run; None
    when it is one. Its size is measured on the tree Python's own parser reads, before `regex` compiles (and
    unrolls) it: a reading of the text by hand missed comments, `(?x)` and character classes."""
    import regex
    from re import _parser  # Python's own reading of the pattern (3.11+): what `re.compile` compiles

    try:
        if _depth(pattern) > MAX_NESTING:
            raise _TooDeep
        _items(_parser.parse(pattern, _re_flags(letters)), 0)
        re.compile(pattern, _re_flags(letters))
        regex.compile(pattern, flags_of(letters))
    except _TooDeep:
        return f"nests groups more than {MAX_NESTING} deep; write it flatter"
    except _TooBig:
        return (f"repeats more than {MAX_UNROLLED:,} items once its fixed repeats are written out (`{{n}}` inside `{{m}}` "
                "multiplies); use `+`, `*` or a range `{n,m}` with a small least count")
    except (re.error, regex.error) as exc:
        return f"is not a valid regular expression: {exc}"
    except (RecursionError, MemoryError, OverflowError, ValueError) as exc:  # ValueError: a count of 5,000 digits
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
