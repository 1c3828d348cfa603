"""`lab review DIR`: the trainer's review of a graded cohort's judged verdicts, its own small app
(the lab's theme and house styles) over `lab.classroom.review`. Nothing here imports litellm: no model is called."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from lab.classroom.review import Session
from lab.tui.keys import early_config, early_theme


class ReviewApp(App[int]):
    TITLE = "Prompt Lab · review"
    # the screen's own sheet too: Textual reads a screen's CSS_PATH when it is pushed, not for the default screen
    CSS_PATH = [str(Path(__file__).with_name("styles") / name) for name in ("app.tcss", "review.tcss")]
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+q", "quit", "Quit", id="review.quit-app", priority=True, show=False, tooltip="Leave; every decision is already saved."),
    ]

    def __init__(self, session: Session, *, cursor_blink: bool = True):
        super().__init__()
        self.review = session
        self.cursor_blink = cursor_blink
        self.running_palette_action = False
        theme = early_theme(early_config())
        self._saved_theme = theme if theme and theme in self.available_themes else None

    def get_default_screen(self) -> Screen[Any]:
        from lab.tui.screens.review import ReviewScreen

        return ReviewScreen(self.review)

    def on_mount(self) -> None:
        if self._saved_theme:
            self.theme = self._saved_theme


def run_review(session: Session) -> int:
    app = ReviewApp(session)
    app.run()
    return int(app.return_code or 0)
