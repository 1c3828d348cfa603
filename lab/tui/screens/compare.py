"""Two attempts side by side (`lab.practice.compare`): the criteria that changed their verdict on top,
then the prompts' diff, then each case's two answers in two columns, the cases where something
flipped first. Opened from the history (two marked attempts) and after running one prompt on two
models."""

from __future__ import annotations

import gettext
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Static

from lab.practice.compare import Comparison, CriterionRow, attempt_summary, criteria_section, flipped_here, no_answer
from lab.settings.i18n import ENGLISH
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.widgets.output import OutputText, toggle_outputs

MARKS = {"pass": ("✓", "bold green"), "fail": ("✗", "bold red"), "ungraded": ("?", "bold yellow"), "absent": ("–", "dim")}
DIRECTION_STYLE = {"fixed": "green", "broke": "red", "changed": "yellow", "same": ""}


def criteria_text(comparison: Comparison, tr: gettext.NullTranslations = ENGLISH) -> Text:
    """`lab compare`'s criteria section (lab.practice.compare.criteria_section), styled: marks before → after,
    scores, what happened, the flipped ones first under their own heading."""
    section = criteria_section(comparison, tr, widest=26)
    text = Text()
    if not section.rows:
        text.append(section.heading, "dim")
        return text
    text.append(section.heading + "\n", "bold")
    for n, row in enumerate(section.rows):
        if n == section.unchanged_at:
            text.append(section.unchanged + "\n", "bold dim")
        text.append_text(_criterion_line(row, section.name_width))
        text.append("\n")
    if section.score_line:
        text.append(section.score_line, "bold")
    return text


def _criterion_line(row: CriterionRow, width: int) -> Text:
    line = Text(" ")
    if row.change.flipped:
        line.append(*MARKS[row.was])
        line.append("→")
    else:
        line.append("  ")
    line.append(*MARKS[row.now])
    line.append(f" {row.name:<{width}} ", "bold" if row.change.flipped else "")
    line.append(f"{row.before:>5} → {row.after:<5}")
    if row.said:
        line.append(f"  {row.said}", DIRECTION_STYLE[row.change.direction])
    return line


def diff_text(comparison: Comparison, tr: gettext.NullTranslations = ENGLISH) -> Text:
    text = Text()
    if not comparison.prompt_diff:
        text.append(tr.gettext("The two prompts are identical."), "dim")
        return text
    for line in comparison.prompt_diff:
        style = "cyan" if line.startswith("@@") else "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        text.append(line + "\n", style)
    text.rstrip()
    return text


class CompareScreen(LabScreen):
    NAMESPACE = "Compare"
    CSS_PATH = stylesheet("history")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("t", "toggle_rendered", "Raw/Markdown", id="compare.toggle-rendered",
                tooltip="Show the answers as the raw text the checks graded, or rendered as Markdown."),
        Binding("escape", "close", "Back", id="compare.back", tooltip="Back to where you came from."),
    ]

    def __init__(self, comparison: Comparison, tr: gettext.NullTranslations = ENGLISH):
        super().__init__()
        self.comparison = comparison
        self.tr = tr  # the exercise's language, as `lab compare` words it
        self.rendered = False

    def compose(self) -> ComposeResult:
        c, t = self.comparison, self.tr
        yield Header()
        with VerticalScroll(id="compare", can_focus=True):
            title = t.gettext("Comparing {a} with {b}").format(a=attempt_summary(c.a, t), b=attempt_summary(c.b, t))
            yield Static(Text(title, "bold"), id="compare-title")
            if c.exercise_changed:
                yield Static(t.gettext("The exercise changed between the two attempts: its rubric may differ."), classes="-error", markup=False)
            yield Static(criteria_text(c, t), id="compare-criteria")
            yield Static(Text(t.gettext("Prompt"), "bold"), classes="section")
            yield Static(diff_text(c, t), id="compare-diff")
            for case in c.cases:
                title = f"── {case.label}" + (f" · {flipped_here(case, t)}" if case.flipped else "")
                yield Static(title, classes="output-title" + (" -flipped" if case.flipped else ""), markup=False)
                with Horizontal(classes="compare-pair"):
                    with Vertical(classes="compare-side"):
                        yield Static(f"#{c.a.id} · {c.a.model}", classes="compare-side-title", markup=False)
                        yield OutputText(no_answer(case.before, t), classes="output")
                    with Vertical(classes="compare-side"):
                        yield Static(f"#{c.b.id} · {c.b.model}", classes="compare-side-title", markup=False)
                        yield OutputText(no_answer(case.after, t), classes="output")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#compare").focus()

    def action_toggle_rendered(self) -> None:
        self.rendered = not self.rendered
        toggle_outputs(self, self.rendered)

    def action_close(self) -> None:
        self.dismiss(None)
