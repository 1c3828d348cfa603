"""f1: every key of every screen, drawn from the bindings themselves so it is never out of date."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from lab.tui.screens.base import LabScreen

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
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,f1", "close", "Close", id="help.close", tooltip="Close the help."),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="help"):
            yield Static("[b]Keys[/b] · the footer shows the ones that apply now; ctrl+p finds any action by name. "
                         "Rebind a key under [keymap] in config.toml with the id in the last column.", id="help-intro")
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Where", "Keys", "What it does", "Id")
        for row in key_rows(self.lab.keymap, self.app.get_key_display):
            table.add_row(*row)
        for where, keys, what in EXTRA_KEYS:
            table.add_row(where, keys, what, "")
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
