"""What every lab screen shares: letter keys hidden while typing, palette commands from bindings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from lab.tui.keys import hide_while_typing

if TYPE_CHECKING:
    from lab.tui.app import LabApp


STYLES = Path(__file__).resolve().parent.parent / "styles"


def stylesheet(name: str) -> str:
    """A screen's own .tcss file, read by Textual when the screen is first shown."""
    return str(STYLES / f"{name}.tcss")


class PaletteCommand:
    def __init__(self, title: str, help: str, action: str):
        self.title, self.help, self.action = title, help, action


class LabScreenMixin:
    """Mixed into Screen and ModalScreen; `NAMESPACE` prefixes this screen's palette entries."""

    NAMESPACE: ClassVar[str] = "Lab"
    BINDINGS: ClassVar[list[Any]]

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """A toast, its text plain by default: it often carries words from outside the lab (a provider's error, a
        file name), where a `[/]` or `[link=…]` would be read as markup and break the drawing."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)  # type: ignore[misc]

    @property
    def lab(self) -> "LabApp":
        return self.app  # type: ignore[attr-defined, return-value]

    def can_run(self, action: str) -> bool:
        """Whether `action` makes sense now (a run in flight, a passed exercise...)."""
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if hide_while_typing(self, self.BINDINGS, action):  # type: ignore[arg-type]
            return False
        return self.can_run(action)

    def palette_commands(self) -> Iterator[PaletteCommand]:
        seen: set[str] = set()
        for binding in Binding.make_bindings(self.BINDINGS):
            if not binding.id or binding.id in seen or not binding.description:
                continue
            seen.add(binding.id)
            if self.can_run(binding.action):
                yield PaletteCommand(f"{self.NAMESPACE}: {binding.description}", binding.tooltip, binding.action)

    def steady_cursors(self) -> None:
        """Tests and snapshots turn the blinking cursor off; so can a learner who dislikes it."""
        if not self.lab.cursor_blink:
            for widget in self.query("Input, TextArea"):  # type: ignore[attr-defined]
                widget.cursor_blink = False


class LabScreen(LabScreenMixin, Screen[Any]):
    def on_mount(self) -> None:
        self.steady_cursors()


class LabModal(LabScreenMixin, ModalScreen[Any]):
    def on_mount(self) -> None:
        self.steady_cursors()
