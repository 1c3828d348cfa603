"""Mastery per track and per skill (docs/mastery.md, the figures `lab progress` prints), what to try
next, and the learner's scores over their graded attempts."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from lab.tui.format import bar
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.session import LabSession
from lab.tui.widgets.chart import ScoreChart

# the band's colour, so "mastered" reads at a glance; the word is always there too (and no band is
# dimmed: "not started" must stay readable on every theme)
BAND_STYLE = {"mastered": "bold green", "practising": "yellow"}


class ProgressScreen(LabScreen):
    NAMESPACE = "Progress"
    CSS_PATH = stylesheet("progress")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close", "Back", id="progress.back", tooltip="Back to where you were."),
    ]

    def __init__(self, session: LabSession):
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="progress", can_focus=True):
            yield Static("[b]Tracks[/b]", classes="section")
            yield DataTable(id="progress-tracks", cursor_type="none", show_cursor=False)
            yield Static("[b]Skills[/b]", classes="section")
            yield DataTable(id="progress-skills", cursor_type="none", show_cursor=False)
            yield Static(id="progress-next")
            yield Static(id="chart-title", classes="section")
            yield ScoreChart(id="chart")
            yield Static(id="chart-legend")
        yield Footer()

    def on_mount(self) -> None:
        learnt = self.session.learnt()
        entries = self.session.exercises
        tracks = [(t.track, t.passed, t.exercises, t.mastery, t.band) for t in learnt.tracks]
        skills = []
        for s in learnt.skills:
            mine = [e.id for e in entries if s.skill in e.skills]
            passed = sum(1 for i in mine if i in learnt.credits and learnt.credits[i].passed)
            skills.append((s.skill, passed, len(mine), s.mastery, s.band))
        self._fill(self.query_one("#progress-tracks", DataTable), "Track", tracks)
        self._fill(self.query_one("#progress-skills", DataTable), "Skill", skills)
        self.query_one("#progress-next", Static).update(self._next_text(learnt))
        history = self.session.score_history()
        scores = [float(a.score or 0) for a in history]
        chart = self.query_one("#chart", ScoreChart)
        title = self.query_one("#chart-title", Static)
        legend = self.query_one("#chart-legend", Static)
        if scores:
            chart.show(scores)
            title.update(f"[b]Scores of your last {len(scores)} graded attempt(s)[/b], oldest on the left, 0 to 1")
            passed = sum(1 for a in history if a.passed)
            legend.update(f"lowest {min(scores):.2f} · highest {max(scores):.2f} · latest {scores[-1]:.2f} · "
                          f"{passed} of {len(scores)} passed")
        else:
            chart.display = False
            title.update("[b]Scores over time[/b]")
            legend.update("No graded attempts yet: open an exercise and send a prompt (ctrl+j).")
        self.query_one("#progress").focus()

    @staticmethod
    def _fill(table: DataTable[Any], label: str, groups: list[tuple[str, int, int, float, str]]) -> None:
        table.add_columns(label, "Passed", "Mastery", "")
        table.add_column("Band", width=len("not started"))  # room for the longest band, whichever rows there are
        for name, passed, exercises, value, band in groups:
            table.add_row(name, f"{passed}/{exercises}", bar(value, 12), f"{value:.2f}", Text(band, BAND_STYLE.get(band, "")))

    @staticmethod
    def _next_text(learnt: Any) -> Content:
        if learnt.next is not None:
            return Content.from_markup("[b]Next:[/b] $exercise. $reason",
                                       exercise=learnt.next.exercise, reason=learnt.next.reason)
        if learnt.tracks:
            return Content("Every exercise is passed.")
        return Content("")

    def action_close(self) -> None:
        self.dismiss(None)
