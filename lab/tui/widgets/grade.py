"""The grade of an attempt, drawn from its stored result (the `lab run --json` shape), so a live
attempt and one reopened from the history look the same."""

from __future__ import annotations

import gettext
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from lab.practice.report import builtin_note
from lab.settings.i18n import ENGLISH
from lab.tui.format import usage_text

PASS_STYLE, FAIL_STYLE, UNGRADED_STYLE = "bold green", "bold red", "bold yellow"


def criterion_mark(criterion: dict[str, Any]) -> Text:
    if criterion.get("ungraded"):
        return Text("?", UNGRADED_STYLE)
    return Text("✓", PASS_STYLE) if criterion.get("passed") else Text("✗", FAIL_STYLE)


def grade_renderable(result: dict[str, Any], tr: gettext.NullTranslations = ENGLISH) -> Group:
    """One line per criterion (mark, id, score, weight), its reason and feedback indented below it:
    readable at 80 columns, where a reason column would be a few words wide. Labels in `tr`'s language."""
    t = tr
    criteria = result.get("criteria", [])
    width = min(max([len(str(c.get("id", ""))) for c in criteria] + [8]), 28)
    lines: list[Any] = []
    for criterion in criteria:
        name = str(criterion.get("id", ""))
        name = name if len(name) <= width else name[: width - 1] + "…"
        lines.append(Text.assemble(criterion_mark(criterion), " ", (name.ljust(width), "bold"),
                                   f"  {float(criterion.get('score', 0)):.2f}  ×{float(criterion.get('weight', 1)):g}"))
        reason = Text("  " + str(criterion.get("reason", "")), "dim")
        if criterion.get("unstable"):
            share = f"{float(criterion.get('pass_rate', 0)):.0%}"
            reason.append("\n  " + t.gettext("unstable: passed {share} of samples").format(share=share), "yellow")
        if not criterion.get("passed") and criterion.get("feedback"):
            reason.append(f"\n  → {criterion['feedback']}", "italic")
        lines.append(reason)
    passed = bool(result.get("passed"))
    verdict = Text.assemble(
        (t.gettext("Score") + " ", "bold"), (f"{float(result.get('score', 0)):.2f}", "bold"),
        " · " + t.gettext("pass mark {pass_mark}").format(pass_mark=f"{float(result.get('pass_mark', 0)):.2f}") + " · ",
        (t.gettext("PASSED"), PASS_STYLE) if passed else (t.gettext("NOT PASSED"), FAIL_STYLE),
    )
    parts: list[Any] = [*lines, verdict]
    ungraded = [c["id"] for c in result.get("criteria", []) if c.get("ungraded")]
    if ungraded:
        parts.append(Text(t.gettext("Ungraded (counted as 0): {criteria}").format(criteria=", ".join(ungraded)), "yellow"))
    note = builtin_note(result, t)
    if note:
        parts.append(Text(note, "italic"))
    parts.append(Text(usage_text(result, tr=t), "dim"))
    return Group(*parts)


class GradeView(Static):
    """Per criterion a mark, score, weight and reason; the overall score against the pass mark; usage.
    `tr` is the exercise's language (its labels)."""

    def __init__(self, *args: Any, tr: gettext.NullTranslations = ENGLISH, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tr = tr

    def show_result(self, result: dict[str, Any]) -> None:
        self.update(grade_renderable(result, self.tr))
        self.display = True

    def clear(self) -> None:
        self.update("")
        self.display = False
