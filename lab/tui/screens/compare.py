"""Two attempts side by side (`lab.practice.compare`): the criteria that changed their verdict on top,
then the prompts' diff, then each case's two answers in two columns, the cases where something
flipped first. Opened from the history (two marked attempts) and after running one prompt on two
models."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Static

from lab.practice.compare import Comparison, CriterionChange, attempt_summary, verdict_of
from lab.practice.report import score_label
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.widgets.output import OutputText, toggle_outputs

MARKS = {"pass": ("✓", "bold green"), "fail": ("✗", "bold red"), "ungraded": ("?", "bold yellow"), "absent": ("–", "dim")}
DIRECTION = {"fixed": ("now passes", "green"), "broke": ("now fails", "red"), "changed": ("changed", "yellow"), "same": ("", "")}


def criteria_text(comparison: Comparison) -> Text:
    """One line per criterion, the flipped ones under their own heading first: marks before → after, scores, what happened."""
    text = Text()
    flipped = comparison.flipped
    if not comparison.criteria:
        text.append("Neither attempt was graded: there are no criteria to compare.", "dim")
        return text
    if flipped:
        text.append(f"{len(flipped)} criteri{'on' if len(flipped) == 1 else 'a'} changed verdict\n", "bold")
    else:
        text.append("No criterion changed its verdict\n", "bold")
    width = min(max([len(c.id) for c in comparison.criteria] + [8]), 26)
    for n, change in enumerate(comparison.criteria):
        if n == len(flipped) and flipped:
            text.append("Unchanged\n", "bold dim")
        text.append_text(_criterion_line(change, width))
        text.append("\n")
    a, b = comparison.a, comparison.b
    if a.score is not None and b.score is not None:
        mark_a = float((a.result or {}).get("pass_mark", 1.0))
        mark_b = float((b.result or {}).get("pass_mark", mark_a))
        text.append(f"Score {score_label(a.score, bool(a.passed), mark_a)} → {score_label(b.score, bool(b.passed), mark_b)}"
                    f" (pass mark {mark_b:.2f})", "bold")
    return text


def _criterion_line(change: CriterionChange, width: int) -> Text:
    was, now = verdict_of(change.before), verdict_of(change.after)
    name = change.id if len(change.id) <= width else change.id[: width - 1] + "…"
    line = Text(" ")
    if change.flipped:
        line.append(*MARKS[was])
        line.append("→")
    else:
        line.append(" ")
        line.append(" ")
    line.append(*MARKS[now])
    line.append(f" {name:<{width}} ", "bold" if change.flipped else "")
    line.append(f"{_score(change.before):>5} → {_score(change.after):<5}")
    said, style = DIRECTION[change.direction]
    if said:
        line.append(f"  {said}", style)
    return line


def _score(criterion: dict[str, Any] | None) -> str:
    if criterion is None:
        return "–"
    return score_label(float(criterion.get("score", 0.0)), bool(criterion.get("passed")))


def diff_text(comparison: Comparison) -> Text:
    text = Text()
    if not comparison.prompt_diff:
        text.append("The two prompts are identical.", "dim")
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

    def __init__(self, comparison: Comparison):
        super().__init__()
        self.comparison = comparison
        self.rendered = False

    def compose(self) -> ComposeResult:
        c = self.comparison
        yield Header()
        with VerticalScroll(id="compare", can_focus=True):
            yield Static(Text.assemble(("Comparing ", "bold"), attempt_summary(c.a), ("  with  ", "bold"), attempt_summary(c.b)),
                         id="compare-title")
            if c.exercise_changed:
                yield Static("The exercise changed between the two attempts: its rubric may differ.", classes="-error")
            yield Static(criteria_text(c), id="compare-criteria")
            yield Static("[b]Prompt[/b]", classes="section")
            yield Static(diff_text(c), id="compare-diff")
            for case in c.cases:
                title = f"── {case.label}" + (f" · flipped here: {', '.join(case.flipped)}" if case.flipped else "")
                yield Static(title, classes="output-title" + (" -flipped" if case.flipped else ""), markup=False)
                with Horizontal(classes="compare-pair"):
                    with Vertical(classes="compare-side"):
                        yield Static(f"#{c.a.id} · {c.a.model}", classes="compare-side-title", markup=False)
                        yield OutputText(case.before if case.before is not None else "(no answer)", classes="output")
                    with Vertical(classes="compare-side"):
                        yield Static(f"#{c.b.id} · {c.b.model}", classes="compare-side-title", markup=False)
                        yield OutputText(case.after if case.after is not None else "(no answer)", classes="output")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#compare").focus()

    def action_toggle_rendered(self) -> None:
        self.rendered = not self.rendered
        toggle_outputs(self, self.rendered)

    def action_close(self) -> None:
        self.dismiss(None)
