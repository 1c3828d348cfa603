"""Which case to try (`Try on this case`): the exercise's cases, the last one tried highlighted.

Dismissed with the case's name, or None (`escape`): nothing is sent.
"""

from __future__ import annotations

import gettext
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from lab.settings.i18n import ENGLISH
from lab.tui.screens.base import LabModal, stylesheet


class CasePickerScreen(LabModal):
    NAMESPACE = "Try"
    CSS_PATH = stylesheet("cost_cap")
    AUTO_FOCUS = "#case-choices"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", "Cancel", id="try.cancel", tooltip="Try nothing; your prompt stays in the editor."),
    ]

    def __init__(self, cases: list[str], current: str | None, tr: gettext.NullTranslations = ENGLISH):
        super().__init__()
        self.cases = cases
        self.current = current if current in cases else cases[0]
        self.tr = tr

    def compose(self) -> ComposeResult:
        t = self.tr
        with Vertical(id="case-picker"):
            yield Static(t.gettext("Try on which case?"), id="case-title")
            yield Static(t.gettext("One call, and how each criterion reads the answer. A try is not an attempt: "
                                   "it is not counted (its cost is)."), id="case-explain")
            yield OptionList(*[Option(name, id=name) for name in self.cases], id="case-choices")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(OptionList).highlighted = self.cases.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
