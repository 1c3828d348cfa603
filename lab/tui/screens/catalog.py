"""The catalog: every track with its exercises, the learner's status in each, and filters.

This is the first screen, so it imports nothing of the engine at module level: the session
arrives from the start-up worker through `session_ready`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Select, Static

from lab.tui.format import score_text, status_mark
from lab.tui.screens.base import LabScreen

if TYPE_CHECKING:
    from lab.tui.session import LabSession

STATUSES = ("new", "tried", "passed")


class ExerciseTable(DataTable[Any]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("enter", "select_cursor", "Open", id="catalog.open", tooltip="Open the highlighted exercise."),
        Binding("j", "cursor_down", "Down", id="catalog.down", show=False, tooltip="Move down the list."),
        Binding("k", "cursor_up", "Up", id="catalog.up", show=False, tooltip="Move up the list."),
    ]


class CatalogScreen(LabScreen):
    NAMESPACE = "Catalog"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("c", "continue", "Continue", id="catalog.continue", tooltip="Reopen the exercise you worked on last."),
        Binding("slash", "focus_filter", "Filter", id="catalog.filter", tooltip="Type to filter by title, id or skill."),
        Binding("escape", "clear_filter", "Clear filter", id="catalog.clear-filter", show=False,
                tooltip="Empty the filters and go back to the list."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session: LabSession | None = None
        self._row_ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="catalog"):
            with Horizontal(id="filters"):
                yield Input(placeholder="/ filter: title, id or skill", id="filter-text", compact=True)
                yield Select[str]([], prompt="all tracks", id="filter-track", compact=True)
                yield Select[str]([(s, s) for s in STATUSES], prompt="any status", id="filter-status", compact=True)
            yield Vertical(id="tracks")
            yield ExerciseTable(id="exercises", cursor_type="row", zebra_stripes=True)
            yield Static("Loading exercises…", id="catalog-info")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(ExerciseTable)
        table.add_columns(" ", "Track", "Exercise", "Lvl", "Skills", "Best")
        table.focus()
        if self.lab.session is not None:
            self.session_ready(self.lab.session)
        elif self.lab.load_error:
            self.session_failed(self.lab.load_error)

    # ------------------------------------------------------------------ data
    def session_ready(self, session: "LabSession") -> None:
        self.session = session
        self.query_one("#filter-track", Select).set_options([(t, t) for t in session.catalog.tracks()])
        self.refresh_catalog()

    def session_failed(self, message: str) -> None:
        self.query_one("#catalog-info", Static).update(f"The lab could not start: {message}")

    def on_screen_resume(self) -> None:
        if self.session is not None:
            self.refresh_catalog()

    def refresh_catalog(self) -> None:
        if self.session is None:
            return
        progress = self.session.progress()
        self._show_tracks(progress)
        self._fill_table(progress)
        self._show_info()
        self.refresh_bindings()

    def _show_tracks(self, progress: dict[str, Any]) -> None:
        assert self.session is not None
        box = self.query_one("#tracks", Vertical)
        box.remove_children()
        tracks, _ = self.session.mastery()
        rows = []
        for track in tracks:
            bar = ProgressBar(total=track.exercises, show_eta=False, show_percentage=False, id=f"track-bar-{len(rows)}")
            bar.progress = track.passed
            rows.append(Horizontal(
                Static(track.name, classes="track-name"), bar,
                Static(f"{track.passed}/{track.exercises} passed · mean best {track.mean_best:.2f}", classes="track-count"),
                classes="track-row"))
        box.mount_all(rows)

    def _filters(self) -> tuple[str, str | None, str | None]:
        text = self.query_one("#filter-text", Input).value.strip().lower()
        track = self.query_one("#filter-track", Select).value
        status = self.query_one("#filter-status", Select).value
        return text, track if isinstance(track, str) else None, status if isinstance(status, str) else None

    def _fill_table(self, progress: dict[str, Any]) -> None:
        assert self.session is not None
        table = self.query_one(ExerciseTable)
        keep = self._row_ids[table.cursor_row] if self._row_ids and 0 <= table.cursor_row < len(self._row_ids) else None
        table.clear()
        self._row_ids = []
        text, track, status = self._filters()
        previous_track = None
        for exercise in self.session.exercises:
            p = progress.get(exercise.id)
            state = p.status if p else "new"
            haystack = " ".join([exercise.title, exercise.id, *exercise.skills]).lower()
            if (text and text not in haystack) or (track and exercise.track != track) or (status and state != status):
                continue
            table.add_row(
                status_mark(state), exercise.track if exercise.track != previous_track else "",
                exercise.title, str(exercise.level), ", ".join(exercise.skills),
                score_text(p.best_score if p else None), key=exercise.id,
            )
            previous_track = exercise.track
            self._row_ids.append(exercise.id)
        if keep in self._row_ids:
            table.move_cursor(row=self._row_ids.index(keep))

    def _show_info(self) -> None:
        assert self.session is not None
        lines = []
        if not self._row_ids:
            lines.append("No exercise matches the filters: press escape to clear them." if self.session.exercises
                         else "No exercises found. Add .j2 files under an exercise folder (see docs/authoring.md).")
        else:
            lines.append("enter opens the highlighted exercise.")
        last = self.session.continue_exercise()
        if last is not None:
            lines.append(f"Continue where you left off: [b]{last.title}[/b] — press c.")
        if self.session.settings.model:
            base = f" at {self.session.settings.api_base}" if self.session.settings.api_base else ""
            lines.append(f"Model: {self.session.settings.model}{base} (m to change).")
        else:
            from lab.tui.session import NO_MODEL_MESSAGE

            lines.append(f"[b]{NO_MODEL_MESSAGE}[/b]")
        broken = len(self.session.catalog.broken_files)
        if broken:
            lines.append(f"{broken} exercise file(s) could not be loaded; `lab validate` lists the problems.")
        info = self.query_one("#catalog-info", Static)
        info.set_class(not self.session.settings.model, "-warning")
        info.update("\n".join(lines))

    # ------------------------------------------------------------------ events and actions
    def on_input_changed(self, event: Input.Changed) -> None:
        if self.session is not None:
            self._fill_table(self.session.progress())
            self._show_info()

    def on_select_changed(self, event: Select.Changed) -> None:
        if self.session is not None:
            self._fill_table(self.session.progress())
            self._show_info()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(ExerciseTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.lab.open_exercise(str(event.row_key.value))

    def can_run(self, action: str) -> bool:
        if action == "continue":
            return self.session is not None and self.session.store.last_exercise() is not None
        if action == "clear_filter":
            text, track, status = self._filters() if self.is_mounted else ("", None, None)
            return bool(text or track or status) or isinstance(self.focused, Input)
        return True

    def action_continue(self) -> None:
        if self.session is None:
            return
        last = self.session.continue_exercise()
        if last is None:
            self.notify("Nothing to continue yet: open an exercise with enter.")
            return
        self.lab.open_exercise(last.id)

    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter-text", Input).value = ""
        self.query_one("#filter-track", Select).clear()
        self.query_one("#filter-status", Select).clear()
        self.query_one(ExerciseTable).focus()
