"""Scores over time as bars on a fixed 0..1 scale: a 0.56 is drawn a little over half high, never as zero
(Textual's Sparkline scales from the lowest score shown to the highest)."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import Static

EIGHTHS = " ▁▂▃▄▅▆▇█"


def score_bars(scores: Sequence[float], height: int, width: int) -> list[str]:
    """`height` lines of one bar per score (the latest that fit in `width`), each filled in eighths of a row;
    bars are two cells wide with a gap when there is room for that."""
    wide = 0 < len(scores) * 3 <= width
    shown = [min(1.0, max(0.0, s)) for s in scores][-max(1, width):]
    lines = []
    for row in range(height, 0, -1):  # top row first
        line = []
        for s in shown:
            eighths = round(s * height * 8) - (row - 1) * 8
            cell = EIGHTHS[min(8, max(0, eighths))]
            line.append(cell * 2 + " " if wide else cell)
        lines.append("".join(line).rstrip() if wide else "".join(line))
    return lines


class ScoreChart(Static):
    DEFAULT_CSS = "ScoreChart { height: 4; }"

    def __init__(self, **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.scores: list[float] = []

    def show(self, scores: Sequence[float]) -> None:
        self.scores = list(scores)
        self.refresh()

    def render(self) -> Text:
        height = max(1, self.content_region.height or 4)
        width = max(1, self.content_region.width or 40)
        return Text("\n".join(score_bars(self.scores, height, width)), style="green")
