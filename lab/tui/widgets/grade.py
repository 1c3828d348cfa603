"""The grade of an attempt, drawn from its stored result (the `lab run --json` shape), so a live
attempt and one reopened from the history look the same."""

from __future__ import annotations

import gettext
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from lab.practice.report import advice_applies, builtin_note, cached_note, score_label
from lab.settings.i18n import ENGLISH
from lab.tui.format import usage_text

PASS_STYLE, FAIL_STYLE, UNGRADED_STYLE = "bold green", "bold red", "bold yellow"


def criterion_mark(criterion: dict[str, Any]) -> Text:
    if criterion.get("ungraded"):
        return Text("?", UNGRADED_STYLE)
    return Text("✓", PASS_STYLE) if criterion.get("passed") else Text("✗", FAIL_STYLE)


def grade_renderable(result: dict[str, Any], tr: gettext.NullTranslations = ENGLISH, answered: bool = False) -> Group:
    """One line per criterion (mark, id, score, weight), its reason and feedback indented below it:
    readable at 80 columns, where a reason column would be a few words wide. Labels in `tr`'s language;
    `answered`: the learner's own text was graded (`writes: answer`), so there is no usage to count."""
    t = tr
    criteria = result.get("criteria", [])
    width = min(max([len(str(c.get("id", ""))) for c in criteria] + [8]), 28)
    lines: list[Any] = []
    for criterion in criteria:
        name = str(criterion.get("id", ""))
        name = name if len(name) <= width else name[: width - 1] + "…"
        score = score_label(float(criterion.get("score", 0)), bool(criterion.get("passed")))
        lines.append(Text.assemble(criterion_mark(criterion), " ", (name.ljust(width), "bold"),
                                   f"  {score}  ×{float(criterion.get('weight', 1)):g}"))
        reason = Text("  " + str(criterion.get("reason", "")), "dim")
        if criterion.get("unstable"):
            share = f"{float(criterion.get('pass_rate', 0)):.0%}"
            reason.append("\n  " + t.gettext("unstable: passed {share} of samples").format(share=share), "yellow")
        if advice_applies(criterion):
            reason.append(f"\n  → {criterion['feedback']}", "italic")
        lines.append(reason)
    passed = bool(result.get("passed"))
    verdict = Text.assemble(
        (t.gettext("Score") + " ", "bold"), (score_label(float(result.get("score", 0)), passed, float(result.get("pass_mark", 1.0))), "bold"),
        " · " + t.gettext("pass mark {pass_mark}").format(pass_mark=f"{float(result.get('pass_mark', 0)):.2f}") + " · ",
        (t.gettext("PASSED"), PASS_STYLE) if passed else (t.gettext("NOT PASSED"), FAIL_STYLE),
    )
    parts: list[Any] = [*lines, verdict]
    ungraded = [c["id"] for c in result.get("criteria", []) if c.get("ungraded")]
    if ungraded:
        parts.append(Text(t.gettext("Ungraded (counted as 0): {criteria}").format(criteria=", ".join(ungraded)), "yellow"))
    note = cached_note(result, t)
    if note:
        parts.append(Text(note, "yellow"))
    note = builtin_note(result, t)
    if note:
        parts.append(Text(note, "italic"))
    if answered:  # an answer is graded as written: no call, no tokens to count
        parts.append(Text(t.gettext("Graded as written: no model was called."), "dim"))
    else:
        parts.append(Text(usage_text(result, tr=t), "dim"))
    return Group(*parts)


def preview_renderable(data: dict[str, Any], tr: gettext.NullTranslations = ENGLISH) -> Group:
    """A try's preview (`lab.practice.trying.TryOutcome.to_dict()`): each criterion's reading of one case's
    answer, what was not previewed, and that it is no attempt."""
    t = tr
    criteria = data.get("criteria", [])
    width = min(max([len(str(c.get("id", ""))) for c in criteria] + [8]), 28)
    parts: list[Any] = [Text(t.gettext("Preview on case '{case}': a try, not an attempt (not counted).").format(case=data.get("case")),
                             "bold")]
    for c in criteria:
        name = str(c.get("id", ""))
        name = name if len(name) <= width else name[: width - 1] + "…"
        score = score_label(float(c.get("score", 0)), bool(c.get("passed")))
        parts.append(Text.assemble(criterion_mark(c), " ", (name.ljust(width), "bold"), f"  {score}"))
        reason = Text("  " + str(c.get("reason", "")), "dim")
        if c.get("feedback"):
            reason.append(f"\n  → {c['feedback']}", "italic")
        parts.append(reason)
    if criteria:
        passing = sum(1 for c in criteria if c.get("passed"))
        parts.append(Text(t.ngettext("{passing} of {total} criterion passes on this case.",
                                     "{passing} of {total} criteria pass on this case.", len(criteria)).format(
            passing=passing, total=len(criteria)), "bold"))
    if data.get("not_previewed"):
        parts.append(Text(t.gettext("Not previewed (they read every case at once): {criteria}.").format(
            criteria=", ".join(data["not_previewed"])), "dim"))
    if data.get("not_for_this_case"):
        parts.append(Text(t.gettext("Not for this case: {criteria}.").format(criteria=", ".join(data["not_for_this_case"])), "dim"))
    if data.get("cached"):
        parts.append(Text(t.gettext("Answered from the response cache (no call, $0)."), "yellow"))
    else:
        parts.append(Text(usage_text(data, tr=t), "dim"))
    return Group(*parts)


class GradeView(Static):
    """Per criterion a mark, score, weight and reason; the overall score against the pass mark; usage.
    `tr` is the exercise's language (its labels)."""

    def __init__(self, *args: Any, tr: gettext.NullTranslations = ENGLISH, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tr = tr

    def show_result(self, result: dict[str, Any]) -> None:
        from lab.practice.attempts import ANSWER_MODEL

        self.update(grade_renderable(result, self.tr, answered=result.get("model") == ANSWER_MODEL))
        self.display = True

    def show_preview(self, data: dict[str, Any]) -> None:
        """A try's reading of one case (not a grade: no score against the pass mark)."""
        self.update(preview_renderable(data, self.tr))
        self.display = True

    def clear(self) -> None:
        self.update("")
        self.display = False
