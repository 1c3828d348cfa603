"""Mastery per track and per skill, and the learner's scores over their graded attempts."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from lab.tui.format import bar
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.session import LabSession
from lab.tui.summary import Mastery
from lab.tui.widgets.chart import ScoreChart


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
            yield Static(id="chart-title", classes="section")
            yield ScoreChart(id="chart")
            yield Static(id="chart-legend")
        yield Footer()

    def on_mount(self) -> None:
        tracks, skills = self.session.mastery()
        self._fill(self.query_one("#progress-tracks", DataTable), "Track", tracks)
        self._fill(self.query_one("#progress-skills", DataTable), "Skill", skills)
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
    def _fill(table: DataTable[Any], label: str, groups: list[Mastery]) -> None:
        table.add_columns(label, "Passed", "Mastery", "Mean best", "Tried")
        for m in groups:
            table.add_row(m.name, f"{m.passed}/{m.exercises}", bar(m.mean_best, 12), f"{m.mean_best:.2f}", str(m.tried))

    def action_close(self) -> None:
        self.dismiss(None)
