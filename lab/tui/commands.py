"""The command palette (ctrl+p): every action of the current screen and of the app, by name, and
"Open: <exercise>" for every exercise. Titles are namespaced ("Exercise: Send") like the footer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterator

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from lab.tui.screens.base import LabScreenMixin

if TYPE_CHECKING:
    from lab.tui.app import LabApp


@dataclass(frozen=True)
class Entry:
    title: str
    help: str
    run: Callable[[], Any]


def palette_entries(app: "LabApp", screen: Any) -> Iterator[Entry]:
    if isinstance(screen, LabScreenMixin):
        for command in screen.palette_commands():
            yield Entry(command.title, command.help, partial(run_from_palette, app, screen, command.action))
    for binding in Binding.make_bindings(app.BINDINGS):
        if binding.id and binding.action != "command_palette":
            yield Entry(f"Lab: {binding.description}", binding.tooltip, partial(run_from_palette, app, app, binding.action))
    session = app.session
    if session is not None:
        progress = session.progress()
        last = session.store.last_exercise()
        entry = session.entry(last) if last is not None else None
        if entry is not None:
            yield Entry("Lab: Continue last exercise", f"Reopen {entry.title}.", partial(app.open_exercise, entry.id))
        for exercise in session.exercises:
            p = progress.get(exercise.id)
            status = p.status if p else "new"
            yield Entry(f"Open: {exercise.title}", f"{exercise.id} · level {exercise.level} · {status}",
                        partial(app.open_exercise, exercise.id))


async def run_from_palette(app: "LabApp", node: Any, action: str) -> None:
    """Run a bound action as if its key were pressed, letter keys included even while typing."""
    app.running_palette_action = True
    try:
        await node.run_action(action)
    finally:
        app.running_palette_action = False


class LabCommands(Provider):
    def _entries(self) -> list[Entry]:
        seen: set[str] = set()
        unique = []
        for entry in palette_entries(self.app, self.screen):  # type: ignore[arg-type]
            if entry.title not in seen:
                seen.add(entry.title)
                unique.append(entry)
        return unique

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(entry.title, entry.run, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            score = matcher.match(entry.title)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.title), entry.run, text=entry.title, help=entry.help)
