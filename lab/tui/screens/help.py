"""f1: every key of every screen, drawn from the bindings themselves so it is never out of date."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from lab.tui.screens.base import LabScreen, stylesheet

EXTRA_KEYS = [
    ("Editor", "ctrl+z / ctrl+y", "Undo / redo."),
    ("Editor", "tab / shift+tab", "Move to the next / previous part of the screen."),
    ("Everywhere", "tab / shift+tab", "Move between the parts of a screen."),
]


def key_rows(keymap: dict[str, str], display: Any) -> list[tuple[str, str, str, str]]:
    """(where, keys, what, binding id) for every lab binding, keys as rebound by the learner's keymap."""
    from lab.tui.app import binding_owners

    rows: list[tuple[str, str, str, str]] = []
    for where, owner in binding_owners():
        by_id: dict[str, list[Binding]] = {}
        for binding in Binding.make_bindings(owner.BINDINGS):
            if binding.id:
                by_id.setdefault(binding.id, []).append(binding)
        for binding_id, bindings in by_id.items():
            first = bindings[0]
            keys = keymap.get(binding_id) or ",".join(b.key for b in bindings)
            shown = " / ".join(display(first.with_key(k.strip())) for k in keys.split(","))
            rows.append((where, shown, first.tooltip or first.description, binding_id))
    return rows


class HelpScreen(LabScreen):
    NAMESPACE = "Help"
    CSS_PATH = stylesheet("help")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,f1", "close", "Close", id="help.close", tooltip="Close the help."),
    ]

    def compose(self) -> ComposeResult:
        self.rows = key_rows(self.lab.keymap, self.app.get_key_display)
        yield Header()
        with VerticalScroll(id="help", can_focus=True):
            yield Static("[b]Keys[/b] · the footer shows the ones that apply now; ctrl+p finds any action by name. "
                         "Rebind a key under \\[keymap] in config.toml with its id (on the right).", id="help-intro")
            yield Static(self._table(), id="help-keys")
        yield Footer()

    def _table(self) -> Group:
        """One block per screen; the descriptions wrap, so every word shows at 80 columns."""
        blocks: list[Any] = []
        rows = [*self.rows, *((where, keys, what, "") for where, keys, what in EXTRA_KEYS)]
        for where in dict.fromkeys(r[0] for r in rows):
            table = Table.grid(padding=(0, 2), expand=True)
            table.add_column(width=16, no_wrap=True)
            table.add_column(ratio=1)
            table.add_column(no_wrap=True, style="dim")
            for _, keys, what, binding_id in (r for r in rows if r[0] == where):
                table.add_row(Text(keys, "bold"), what, binding_id)
            blocks += [Text(where, "bold underline"), table, Text("")]
        return Group(*blocks)

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        self.dismiss(None)
