"""Small text helpers shared by checks."""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")


def words(text: str) -> int:
    return len(_WORD.findall(text))


def quote(text: str, limit: int = 60) -> str:
    """A short quotation of `text` for a reason line."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return f"“{flat}”"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
