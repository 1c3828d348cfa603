"""`similar`: close enough to a reference text, measured locally (ROUGE-L or a fuzzy ratio).

Both methods run on normalised text (case folded, punctuation dropped, white space collapsed), so
"Paris." and "paris" are the same. Nothing is downloaded: no embedding model, no tokenizer files.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import Field, field_validator

from graders.registry import CheckContext, CheckResult, Params, register

_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_TOKENS = 4000  # LCS is quadratic; beyond this a longer text is compared by its first tokens


class SimilarParams(Params):
    reference: str
    threshold: float = Field(default=0.6, ge=0, le=1)
    method: Literal["rouge-l", "ratio"] = "rouge-l"

    @field_validator("reference")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not _TOKEN.search(value):
            raise ValueError("must contain at least one word")
        return value


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())[:MAX_TOKENS]


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (one row of the classic table at a time)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over word tokens: harmonic mean of LCS precision and recall."""
    c, r = tokens(candidate), tokens(reference)
    if not c or not r:
        return 0.0
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def ratio(candidate: str, reference: str) -> float:
    """difflib's SequenceMatcher ratio on the normalised texts (characters, not words)."""
    return difflib.SequenceMatcher(None, " ".join(tokens(candidate)), " ".join(tokens(reference)), autojunk=False).ratio()


METHODS = {"rouge-l": rouge_l, "ratio": ratio}


@register("similar", SimilarParams)
def similar(output: str, p: SimilarParams, ctx: CheckContext) -> CheckResult:
    """Passes when the output is at least `threshold` similar to `reference`; partial credit below it."""
    t = ctx.tr
    value = METHODS[p.method](output, p.reference)
    label = "ROUGE-L" if p.method == "rouge-l" else t.gettext("character ratio")
    share, needed = f"{value:.0%}", f"{p.threshold:.0%}"
    if value >= p.threshold - 1e-9:
        return CheckResult.ok(t.gettext("The output is {share} similar to the reference ({method}; {needed} needed).").format(
            share=share, method=label, needed=needed), similarity=round(value, 4))
    return CheckResult.fail(t.gettext("The output is only {share} similar to the reference ({method}); {needed} is needed.").format(
                                share=share, method=label, needed=needed),
                            score=value / p.threshold if p.threshold else 0.0, similarity=round(value, 4))
