"""The question asked before an attempt that would pass the learner's daily cap (`max_cost`).

Dismissed with True to send, False to keep the prompt unsent; `escape` and `enter` on the focused
"Don't send" button both mean no, so a stray key never spends past the cap.
"""

from __future__ import annotations

import gettext
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from lab.settings.i18n import ENGLISH
from lab.tui.screens.base import LabModal, stylesheet


class CostCapScreen(LabModal):
    NAMESPACE = "Cost"
    CSS_PATH = stylesheet("cost_cap")
    AUTO_FOCUS = "#cost-keep"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("y", "answer(True)", "Send anyway", id="cost.send", tooltip="Send this attempt although it passes your daily cap."),
        Binding("n,escape", "answer(False)", "Don't send", id="cost.keep", tooltip="Send nothing; your prompt stays in the editor."),
    ]

    def __init__(self, message: str, tr: gettext.NullTranslations = ENGLISH):
        super().__init__()
        self.message = message
        self.tr = tr

    def compose(self) -> ComposeResult:
        with Vertical(id="cost-cap"):
            t = self.tr
            yield Static(t.gettext("Over your daily cap"), id="cost-title")
            yield Static(t.gettext("{reason}. Send anyway?").format(reason=self.message), id="cost-message", markup=False)
            with Horizontal(id="cost-buttons"):
                yield Button(t.gettext("Send anyway (y)"), id="cost-send", variant="warning", compact=True)
                yield Button(t.gettext("Don't send (n)"), id="cost-keep", variant="primary", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "cost-send")

    def action_answer(self, go: bool) -> None:
        self.dismiss(go)
