"""A model's answer as the checks grade it: the raw text by default, rendered Markdown on request.

Rendering hides what graders see (code fences, HTML tags, `#` lines, bullets, backslashes), so a
reason such as "the output wraps the JSON in a code fence" would sit next to no fence.
"""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.widgets import Static


PREFILL_STYLE = "underline bold"  # the prefill at the start of an answer, marked ⟦ ⟧ as the CLI marks it


class OutputText(Static):
    """One output, appended to while it streams; `rendered` switches raw text / Markdown. A `prefill` is
    drawn first, marked: the answer starts with it and the model's words follow."""

    DEFAULT_CSS = "OutputText { height: auto; }"

    def __init__(self, text: str = "", rendered: bool = False, prefill: str = "", **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.source = text
        self.rendered = rendered
        self.prefill = prefill

    def on_mount(self) -> None:
        self._draw()

    def append(self, piece: str) -> None:
        self.source += piece
        self._draw()

    def show_rendered(self, rendered: bool) -> None:
        self.rendered = rendered
        self._draw()

    def _draw(self) -> None:
        if self.rendered:
            self.update(RichMarkdown(self.prefill + self.source))
        elif self.prefill:
            self.update(Text.assemble((f"⟦{self.prefill}⟧", PREFILL_STYLE), self.source))
        else:
            self.update(Text(self.source))


def toggle_outputs(screen: object, rendered: bool) -> None:
    """Switch every output on `screen` between raw text and rendered Markdown."""
    for output in screen.query(OutputText):  # type: ignore[attr-defined]
        output.show_rendered(rendered)
