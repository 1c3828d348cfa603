"""Small text helpers shared by checks: counting, quoting, and the parameter types for text."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

_WORD = re.compile(r"\S+")

# What a learner cannot see on screen: typographic apostrophes and quotes, no-break and thin spaces.
_PLAIN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ",
})


def words(text: str) -> int:
    return len(_WORD.findall(text))


def plain(text: str) -> str:
    """The text as text checks compare it: NFC, typographic apostrophes, quotes and no-break spaces
    read as their plain forms (a learner cannot tell "don’t" from "don't" on screen)."""
    return unicodedata.normalize("NFC", text).translate(_PLAIN)


def quote(text: str, limit: int = 60) -> str:
    """A short quotation of `text` for a reason line."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return f"“{flat}”"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _as_text(value: Any) -> Any:
    """YAML reads `value: 0` or `value: yes` as a number or a boolean; where text is expected, it is their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _not_empty(value: str) -> str:
    if not value.strip():
        # an empty needle is found in every output: the criterion would always pass (and never under `not`)
        raise PydanticCustomError("empty_text", "is empty, so it would match every output")
    return value


Text = Annotated[str, BeforeValidator(_as_text)]
"""Text where YAML may have read a number or a boolean."""

Needle = Annotated[str, BeforeValidator(_as_text), AfterValidator(_not_empty)]
"""Text to look for in an output: never empty (the loader names the criterion and the case)."""
