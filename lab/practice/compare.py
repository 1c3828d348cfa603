"""Two attempts side by side: what changed in the prompt, which criteria changed their verdict, and
each case's two answers. A learner learns by changing one thing and seeing what it did; the
criteria that flipped come first, because they are what the change did.

`compare_attempts` works on stored attempts (the store's records), so `lab compare`, `lab run
--model A --model B` and the lab's history all compare the same way. `criteria_section` is what the
criteria part says, in the exercise's language; `comparison_lines` makes it terminal text and the TUI
styles the same rows with its own widgets.
"""

from __future__ import annotations

import difflib
import gettext
import textwrap
from dataclasses import dataclass
from typing import Any, Literal

from lab.errors import LabError
from lab.practice.store import AttemptRecord
from lab.settings.i18n import ENGLISH

Verdict = Literal["pass", "fail", "ungraded", "absent"]


def verdict_of(criterion: dict[str, Any] | None) -> Verdict:
    """A criterion's verdict in a stored result (a criterion entry, overall or for one case)."""
    if criterion is None:
        return "absent"
    if criterion.get("passed"):
        return "pass"
    return "ungraded" if criterion.get("ungraded") else "fail"


@dataclass(frozen=True)
class CriterionChange:
    """One criterion in both attempts: its overall entry in each result (None where it is absent)."""

    id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def flipped(self) -> bool:
        return verdict_of(self.before) != verdict_of(self.after)

    @property
    def direction(self) -> Literal["fixed", "broke", "changed", "same"]:
        """fixed: it now passes; broke: it passed and no longer does; changed: any other flip."""
        was, now = verdict_of(self.before), verdict_of(self.after)
        if was == now:
            return "same"
        if now == "pass":
            return "fixed"
        if was == "pass":
            return "broke"
        return "changed"


@dataclass(frozen=True)
class CaseAnswers:
    """One case (and sample): the two answers, and the criteria whose verdict on this case flipped."""

    case: str
    sample: int
    samples: int
    before: str | None
    after: str | None
    flipped: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.case if self.samples == 1 else f"{self.case} #{self.sample + 1}"


@dataclass(frozen=True)
class Comparison:
    a: AttemptRecord
    b: AttemptRecord
    prompt_diff: tuple[str, ...]  # unified diff lines, without the two header lines; empty when the prompts are equal
    criteria: tuple[CriterionChange, ...]  # the flipped ones first, each group in rubric order
    cases: tuple[CaseAnswers, ...]  # the cases where a criterion flipped first, each group in case order

    @property
    def flipped(self) -> list[CriterionChange]:
        return [c for c in self.criteria if c.flipped]

    @property
    def exercise_changed(self) -> bool:
        """The exercise's file changed between the two attempts (its rubric may differ)."""
        return self.a.exercise_hash != self.b.exercise_hash

    def to_dict(self) -> dict[str, Any]:
        """`lab compare --json`."""
        def side(record: AttemptRecord) -> dict[str, Any]:
            result = record.result or {}
            return {"attempt_id": record.id, "model": record.model, "status": record.status, "score": record.score,
                    "passed": record.passed, "pass_mark": result.get("pass_mark"), "cached": bool(result.get("cached")),
                    "prompt": record.prompt, "texts": record.texts, "error": record.error}

        def entry(c: dict[str, Any] | None) -> dict[str, Any] | None:
            if c is None:
                return None
            return {"verdict": verdict_of(c), "score": c.get("score"), "reason": c.get("reason")}

        return {
            "exercise": self.a.exercise_id,
            "exercise_changed": self.exercise_changed,
            "a": side(self.a), "b": side(self.b),
            "prompt_diff": list(self.prompt_diff),
            "criteria": [{"id": c.id, "flipped": c.flipped, "direction": c.direction, "a": entry(c.before), "b": entry(c.after)}
                         for c in self.criteria],
            "cases": [{"name": c.case, "sample": c.sample, "a": c.before, "b": c.after, "flipped": list(c.flipped)} for c in self.cases],
        }


def compare_attempts(a: AttemptRecord, b: AttemptRecord) -> Comparison:
    """A (the earlier or the reference) against B. Raises LabError for attempts at two exercises."""
    if a.exercise_id != b.exercise_id:
        raise LabError(f"#{a.id} is an attempt at {a.exercise_id} and #{b.id} at {b.exercise_id}: "
                       "compare two attempts at the same exercise.")
    diff = list(difflib.unified_diff(written(a).splitlines(), written(b).splitlines(), lineterm="", n=3))[2:]
    ra, rb = a.result or {}, b.result or {}
    before = {c["id"]: c for c in ra.get("criteria", [])}
    after = {c["id"]: c for c in rb.get("criteria", [])}
    order = list(before) + [i for i in after if i not in before]
    changes = [CriterionChange(i, before.get(i), after.get(i)) for i in order]
    criteria = [c for c in changes if c.flipped] + [c for c in changes if not c.flipped]
    return Comparison(a, b, tuple(diff), tuple(criteria), tuple(_cases(ra, rb)))


def written(record: AttemptRecord) -> str:
    """What the learner wrote for an attempt: its prompt, or each of its texts under its name (a system
    prompt and a prompt, a prefill, the messages of a conversation), so that a diff shows which changed."""
    if not record.texts:
        return record.prompt
    parts = []
    for name, value in record.texts.items():
        text = "\n---\n".join(value) if isinstance(value, list) else str(value)
        parts.append(f"[{name}]\n{text}")
    return "\n".join(parts)


def _cases(ra: dict[str, Any], rb: dict[str, Any]) -> list[CaseAnswers]:
    cases_a = {c["name"]: c for c in ra.get("cases", [])}
    cases_b = {c["name"]: c for c in rb.get("cases", [])}
    names = list(cases_a) + [n for n in cases_b if n not in cases_a]
    found = []
    for name in names:
        ca, cb = cases_a.get(name, {}), cases_b.get(name, {})
        verdicts_a = {c["id"]: verdict_of(c) for c in ca.get("criteria", [])}
        verdicts_b = {c["id"]: verdict_of(c) for c in cb.get("criteria", [])}
        flipped = tuple(i for i in list(verdicts_a) + [i for i in verdicts_b if i not in verdicts_a]
                        if verdicts_a.get(i, "absent") != verdicts_b.get(i, "absent"))
        outs_a, outs_b = list(ca.get("outputs", [])), list(cb.get("outputs", []))
        samples = max(len(outs_a), len(outs_b), 1)
        for sample in range(samples):
            found.append(CaseAnswers(name, sample, samples, outs_a[sample] if sample < len(outs_a) else None,
                                     outs_b[sample] if sample < len(outs_b) else None, flipped))
    return [c for c in found if c.flipped] + [c for c in found if not c.flipped]


def attempt_summary(record: AttemptRecord, tr: gettext.NullTranslations = ENGLISH) -> str:
    """"#5 · 0.67 not passed · openai/echo": an attempt as one side of a comparison."""
    from lab.practice.report import score_label

    t = tr
    if record.status == "graded" and record.score is not None:
        outcome = (t.gettext("{score} passed") if record.passed else t.gettext("{score} not passed")).format(
            score=score_label(record.score, bool(record.passed), record.pass_mark))
    else:
        outcome = t.gettext("not graded ({status})").format(status=record.status.replace("_", " "))
    if (record.result or {}).get("cached"):
        outcome += " · " + t.gettext("cached")
    return f"#{record.id} · {outcome} · {record.model}"


# ---------------------------------------------------------------------- as terminal text

MARKS = {"pass": "✓", "fail": "✗", "ungraded": "?", "absent": "–"}


@dataclass(frozen=True)
class CriterionRow:
    """One criterion's line: its verdicts and scores before and after, and what happened, in words."""

    change: CriterionChange
    was: Verdict
    now: Verdict
    name: str  # the id, cut to the section's width
    before: str  # the score before ("–" when absent)
    after: str
    said: str  # "now passes", "now fails", "changed", or nothing


@dataclass(frozen=True)
class CriteriaSection:
    """The criteria part of a comparison, worded in one language: a heading, the rows (the flipped ones first,
    `unchanged_at` the first of the others when some flipped) and the scores' line."""

    heading: str  # how many flipped; or that there is nothing to compare (then no rows)
    rows: list[CriterionRow]
    unchanged_at: int | None
    unchanged: str
    score_line: str | None
    name_width: int


def criteria_section(c: Comparison, tr: gettext.NullTranslations = ENGLISH, widest: int = 28) -> CriteriaSection:
    """What `lab compare` and the lab's comparison say of the criteria (names cut to `widest` characters)."""
    from lab.practice.report import score_label

    t = tr
    flipped = c.flipped
    if not c.criteria:
        heading = t.gettext("Neither attempt was graded: there are no criteria to compare.")
    elif flipped:
        heading = t.ngettext("{n} criterion changed its verdict:", "{n} criteria changed their verdict:", len(flipped)).format(n=len(flipped))
    else:
        heading = t.gettext("No criterion changed its verdict.")
    name_width = min(max([len(ch.id) for ch in c.criteria] + [8]), widest)
    words = {"fixed": t.gettext("now passes"), "broke": t.gettext("now fails"), "changed": t.gettext("changed"), "same": ""}
    rows = [CriterionRow(ch, verdict_of(ch.before), verdict_of(ch.after), ch.id if len(ch.id) <= name_width else ch.id[: name_width - 1] + "…",
                         _score(ch.before), _score(ch.after), words[ch.direction]) for ch in c.criteria]
    score_line = None
    if c.a.score is not None and c.b.score is not None:
        mark_a, mark_b = c.a.pass_mark, c.b.pass_mark  # as the history shows each attempt's
        score_line = (t.gettext("Score {a} → {b}").format(a=score_label(c.a.score, bool(c.a.passed), mark_a),
                                                         b=score_label(c.b.score, bool(c.b.passed), mark_b))
                      + " " + t.gettext("(pass mark {pass_mark})").format(pass_mark=f"{mark_b:.2f}"))
    return CriteriaSection(heading, rows, len(flipped) if flipped and len(flipped) < len(rows) else None, t.gettext("Unchanged:"),
                           score_line, name_width)


def comparison_lines(c: Comparison, paint: Any, width: int | None = None, tr: gettext.NullTranslations = ENGLISH) -> list[str]:
    """The comparison as `lab compare` prints it: the two attempts, the criteria (flipped first), the
    prompt's diff, then each case's two answers side by side in columns that fit `width` (100 when None)."""
    t = tr
    width = max(40, width or 100)
    lines = [paint.bold(t.gettext("Comparing {a} with {b}").format(a=attempt_summary(c.a, t), b=attempt_summary(c.b, t)))]
    lines.append(paint.dim(c.a.exercise_id))
    if c.exercise_changed:
        lines.append(paint.warn(t.gettext("The exercise changed between the two attempts: its rubric may differ.")))
    section = criteria_section(c, t)
    lines.append("")
    lines.append(paint.dim(section.heading) if not section.rows else paint.bold(section.heading))
    for n, row in enumerate(section.rows):
        if n == section.unchanged_at:
            lines.append(paint.dim(section.unchanged))
        marks = f"{_mark(row.was, paint)}→{_mark(row.now, paint)}" if row.change.flipped else f" {_mark(row.now, paint)} "
        direction = row.change.direction
        said = paint.good(row.said) if direction == "fixed" else paint.bad(row.said) if direction == "broke" else row.said
        lines.append(f" {marks} {row.name:<{section.name_width}}  {row.before:>5} → {row.after:<5}  {said}".rstrip())
    if section.score_line:
        lines.append(section.score_line)

    lines.append("")
    lines.append(paint.bold(t.gettext("Prompt")))
    if not c.prompt_diff:
        lines.append(paint.dim(t.gettext("The two prompts are identical.")))
    for line in c.prompt_diff:
        lines.append(paint.good(line) if line.startswith("+") else paint.bad(line) if line.startswith("-")
                     else paint.dim(line) if line.startswith("@@") else line)

    column = (width - 3) // 2
    for case in c.cases:
        lines.append("")
        title = f"── {case.label} "
        if case.flipped:
            title += "· " + flipped_here(case, t) + " "
        lines.append(paint.bold(title + "─" * max(0, width - len(title))))
        left = _wrapped(case.before, column, t)
        right = _wrapped(case.after, column, t)
        lines.append(paint.dim(f"{('#' + str(c.a.id)):<{column}} │ #{c.b.id}"))
        for n in range(max(len(left), len(right))):
            l_text = left[n] if n < len(left) else ""
            r_text = right[n] if n < len(right) else ""
            lines.append(f"{l_text:<{column}} │ {r_text}".rstrip())
    return lines


def flipped_here(case: CaseAnswers, tr: gettext.NullTranslations = ENGLISH) -> str:
    return tr.gettext("flipped here: {criteria}").format(criteria=", ".join(case.flipped))


def no_answer(text: str | None, tr: gettext.NullTranslations = ENGLISH) -> str:
    """What stands for an answer that is missing or empty, else the answer."""
    if text is None:
        return tr.gettext("(no answer)")
    return text if text else tr.gettext("(empty answer)")


def _mark(verdict: Verdict, paint: Any) -> str:
    mark = MARKS[verdict]
    return paint.good(mark) if verdict == "pass" else paint.bad(mark) if verdict == "fail" else paint.warn(mark)


def _score(criterion: dict[str, Any] | None) -> str:
    from lab.practice.report import score_label

    if criterion is None:
        return "–"
    return score_label(float(criterion.get("score", 0.0)), bool(criterion.get("passed")))


def _wrapped(text: str | None, width: int, t: gettext.NullTranslations) -> list[str]:
    """`text` cut into lines of at most `width` characters, its own line breaks kept."""
    if not text:
        return [no_answer(text, t)]
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(line, width, replace_whitespace=False, drop_whitespace=True,
                                   break_long_words=True, break_on_hyphens=False) or [""])
    return lines
