"""The lab app: `lab` with no command.

Start-up is kept to what the first frame needs (Textual and the catalog screen). The exercises,
the store and the settings load in a thread worker right after the first frame; litellm, which
costs seconds, is imported in another worker after that, and nothing waits for it: a send that
comes first simply waits for the import inside its own worker.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from lab.tui.keys import early_config, early_theme, hide_while_typing, keymap_from, unknown_ids
from lab.tui.screens.catalog import CatalogScreen

if TYPE_CHECKING:  # at run time these load in the session worker, off the first frame
    from lab.format.catalog import CatalogIndex
    from lab.format.validation import BrokenExercise
    from lab.tui.launch import IndexBuilder
    from lab.tui.session import LabSession


INDEX_BUILDER_WAIT_S = 30.0  # far beyond a thousand files; a builder slower than this is stuck
FIRST_FRAME_WAIT_S = 0.5  # how long the first frame waits for the builder; then it shows "Loading" and the worker waits


class LabApp(App[int]):
    TITLE = "Prompt Lab"
    CSS_PATH = str(Path(__file__).with_name("styles") / "app.tcss")  # absolute: subclasses elsewhere keep it
    COMMANDS = App.COMMANDS | {lambda: lab_commands()}
    NAMESPACE = "Lab"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f1", "help", "Help", id="lab.help", tooltip="Every key of every screen."),
        Binding("ctrl+p", "command_palette", "Commands", id="lab.commands", show=False, tooltip="Search every action by name."),
        Binding("m", "choose_model", "Model", id="lab.model", tooltip="Pick the model your prompts are sent to."),
        Binding("p", "progress", "Progress", id="lab.progress", tooltip="Mastery per track and skill, and your scores over time."),
        Binding("ctrl+t", "change_theme", "Theme", id="lab.theme", show=False, tooltip="Switch the colour theme (saved for next time)."),
        # not in the footer, as in every Textual app; ctrl+c says how to quit, f1 and ctrl+p list it
        Binding("ctrl+q", "quit", "Quit", id="lab.quit", priority=True, show=False, tooltip="Leave the lab; your drafts are already saved."),
    ]

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """A toast, its text plain by default (see LabScreenMixin.notify)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def __init__(self, exercise_dirs: Sequence[str] = (), *, cursor_blink: bool = True, preload_litellm: bool = True,
                 index_builder: "IndexBuilder | None" = None):
        super().__init__()
        self.exercise_dirs = list(exercise_dirs)
        self.index_builder = index_builder  # lab.tui.launch: a process building the index on a first start
        self.listed_catalog: "CatalogIndex | None" = None  # the builder's catalogue, drawn in the first frame
        self.cursor_blink = cursor_blink
        self.preload = preload_litellm
        self.session: LabSession | None = None
        self.load_error: str | None = None
        self.running_palette_action = False
        self.validation: "subprocess.Popen[str] | None" = None  # lab.format.validation, once started
        self._saved_theme: str | None = None
        config = early_config()
        theme = early_theme(config)
        if theme and theme in self.available_themes:
            self._saved_theme = theme
        self.keymap = keymap_from(config)
        if self.keymap:
            self.set_keymap(self.keymap)

    def get_default_screen(self) -> Screen[Any]:
        return CatalogScreen()

    def on_mount(self) -> None:
        if self._saved_theme:
            self.theme = self._saved_theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.call_after_refresh(self.load_session)

    # ------------------------------------------------------------------ start-up workers
    def first_catalog(self) -> "CatalogIndex | None":
        """On a first start, the catalogue from the index builder if it comes within FIRST_FRAME_WAIT_S, for
        the catalog screen's first frame: the list itself rather than an empty frame and the list after it.
        The builder reads the files while this process imports Textual, so it is mostly done by now."""
        builder = self.index_builder
        if builder is None:
            return None
        from lab.settings import paths

        if paths.database_file().exists():
            return None  # the learner has statuses: the rows wait for the store (the builder is the worker's)
        try:
            catalog = builder.catalog(FIRST_FRAME_WAIT_S)
        except TimeoutError:
            return None  # a large course on a slow disk: the worker waits for the rest after the first frame
        self.listed_catalog = self._ours(catalog)
        return self.listed_catalog

    @work(thread=True, group="start-up", exit_on_error=False)
    def load_session(self) -> None:
        from lab.errors import LabError
        from lab.format.catalog import load_index
        from lab.settings import paths

        try:
            # the index reads front matter only (no pydantic, no Jinja): on a first start, with no cached
            # catalog and no progress yet, its rows are the list, drawn before the settings and the store load
            first_start = not paths.database_file().exists()
            catalog = self.listed_catalog or self._catalog_from_builder()
            if catalog is None:
                catalog = load_index(self.exercise_dirs)
            if first_start and catalog is not self.listed_catalog:
                drawn = threading.Event()
                self.call_from_thread(self._catalog_listed, catalog, drawn)
                drawn.wait(2.0)  # importing the rest holds the GIL: let the list reach the screen first
            from lab.tui.session import LabSession

            session = LabSession.open(self.exercise_dirs, catalog=catalog)
        except LabError as exc:
            self.call_from_thread(self._session_failed, str(exc))
            return
        self.call_from_thread(self._session_ready, session)

    def _catalog_from_builder(self) -> "CatalogIndex | None":
        builder = self.index_builder  # quitting meanwhile kills it (run_app), which ends this wait
        if builder is None:
            return None
        try:
            catalog = builder.catalog(INDEX_BUILDER_WAIT_S)
        except TimeoutError:
            builder.stop()
            return None
        return self._ours(catalog)

    def _ours(self, catalog: "CatalogIndex | None") -> "CatalogIndex | None":
        """The builder's catalogue, if it is of this lab's folders: the child read its roots from the same
        arguments and environment, and anything else is not ours to draw."""
        from lab.format.listing import exercise_roots

        return catalog if catalog is not None and catalog.roots == exercise_roots(self.exercise_dirs) else None

    def _catalog_listed(self, catalog: "CatalogIndex", drawn: threading.Event) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, CatalogScreen):
                screen.catalog_listed(catalog)
        self.call_after_refresh(drawn.set)

    def _session_ready(self, session: "LabSession") -> None:
        self.session = session
        for screen in self.screen_stack:
            if isinstance(screen, CatalogScreen):
                screen.session_ready(session)
        if session.settings_error:
            self.notify(session.settings_error, severity="error", timeout=10)
        for warning in session.settings_warnings:
            self.notify(warning, severity="warning", timeout=10)
        unknown = unknown_ids(self.keymap) if self.keymap else []
        if unknown:
            self.notify(f"config.toml [keymap] names unknown keys: {', '.join(unknown)} (f1 lists the ids).",
                        severity="warning", timeout=8)
        # the background work holds the GIL for seconds (1,000 files to validate, litellm's import):
        # it starts once the filled catalog is on the screen, so that frame is not held up
        self.call_after_refresh(self._start_background_work)

    def _start_background_work(self) -> None:
        self.warm_screens()
        self.validate_catalog()
        if self.preload:
            self.preload_litellm()

    @work(thread=True, group="start-up", exit_on_error=False)
    def warm_screens(self) -> None:
        """Import the other screens and the engine's loader, graders and Jinja while the learner reads
        the catalog, so opening the first exercise is as quick as opening the next (about 150 ms of
        imports and first parses otherwise)."""
        importlib.import_module("lab.tui.screens.exercise")
        session = self.session
        if session is None or not session.exercises:
            return
        from lab.format.loader import load_exercise

        entry = session.exercises[0]
        try:
            load_exercise(entry.path, entry.root)  # thrown away: opening loads it afresh and records it
        except Exception:  # a broken file is the background check's to report
            pass

    @work(thread=True, group="validate", exit_on_error=False)
    def validate_catalog(self) -> None:
        """Full validation of every exercise the index has not validated, in a second process
        (lab.format.validation); each broken one leaves the catalog with its problems in the info line."""
        from lab.format import validation as validation_process
        from lab.tui.threads import run_watched

        try:
            process = self.validation = validation_process.start(self.exercise_dirs)
        except OSError:
            return  # opening an exercise still validates it and names its problems

        def report() -> None:
            assert process.stdout is not None
            for broken in validation_process.findings(process.stdout):
                self.call_threadsafe(self._exercise_broken, broken)
            process.wait()

        run_watched(report, "lab-validate", on_abandon=process.kill)

    def _exercise_broken(self, broken: "BrokenExercise") -> None:
        session = self.session
        file = str(broken.path)
        entry = next((e for e in session.catalog.entries if e.file == file), None) if session else None
        if entry is None or entry.broken:
            return
        session.catalog.mark_broken(entry, broken.problems)
        self._catalog_changed()

    def _catalog_changed(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, CatalogScreen):
                screen.refresh_catalog()

    def _session_failed(self, message: str) -> None:
        self.load_error = message
        for screen in self.screen_stack:
            if isinstance(screen, CatalogScreen):
                screen.session_failed(message)

    @work(thread=True, group="start-up", exit_on_error=False)
    def preload_litellm(self) -> None:
        """Import litellm off the main thread, watched so that quitting meanwhile is not held up."""
        from lab.models import llm
        from lab.tui.threads import run_watched

        run_watched(llm.load_litellm, "lab-import-litellm")

    # ------------------------------------------------------------------ settings
    def _remember_theme(self, theme: Any) -> None:
        name = getattr(theme, "name", None)
        if not name or name == self._saved_theme:
            return
        from lab.errors import LabError
        from lab.settings.config import save_settings

        try:
            save_settings(theme=name)
            self._saved_theme = name
        except LabError as exc:
            self.notify(f"The theme could not be saved: {exc}", severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if hide_while_typing(self.screen, self.BINDINGS, action):
            return False
        return True

    # ------------------------------------------------------------------ actions
    def call_threadsafe(self, callback: Callable[..., Any], *args: Any) -> None:
        """call_from_thread for workers that may outlive the app (a late answer after quitting)."""
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:
            pass

    def action_help(self) -> None:
        from lab.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_choose_model(self) -> None:
        from lab.tui.screens.model import ModelScreen

        self._push_session_screen(ModelScreen)

    def action_progress(self) -> None:
        from lab.tui.screens.progress import ProgressScreen

        self._push_session_screen(ProgressScreen)

    def _push_session_screen(self, screen_type: Callable[["LabSession"], Screen[Any]]) -> None:
        """Open a screen that needs the loaded session, unless it is already on top."""
        if self.session is None:
            self.notify("The lab is still loading.", severity="warning")
            return
        if not isinstance(self.screen, screen_type):  # type: ignore[arg-type]
            self.push_screen(screen_type(self.session))

    def open_exercise(self, exercise_id: str) -> None:
        from lab.errors import LabError
        from lab.tui.screens.exercise import ExerciseScreen

        if self.session is None:
            return
        try:
            exercise = self.session.open_exercise(exercise_id)
        except LabError as exc:
            self.notify(str(exc), severity="error", timeout=12)
            self._catalog_changed()
            return
        while len(self.screen_stack) > 1:  # one exercise open at a time, straight above the catalog
            self.pop_screen()
        self.push_screen(ExerciseScreen(self.session, exercise))


def lab_commands() -> Any:
    """The palette's provider, imported when the palette first opens rather than at start-up."""
    from lab.tui.commands import LabCommands

    return LabCommands


def binding_owners() -> list[tuple[str, Any]]:
    """Every class that declares lab key bindings, with the name the help screen gives it."""
    from lab.tui.screens.case_picker import CasePickerScreen
    from lab.tui.screens.catalog import CatalogScreen, ExerciseList
    from lab.tui.screens.compare import CompareScreen
    from lab.tui.screens.exercise import ExerciseScreen
    from lab.tui.screens.help import HelpScreen
    from lab.tui.screens.history import AttemptScreen, DiffScreen, HistoryScreen
    from lab.tui.screens.model import ModelScreen
    from lab.tui.screens.progress import ProgressScreen

    return [
        ("Everywhere", LabApp), ("Catalog", CatalogScreen), ("Catalog list", ExerciseList), ("Exercise", ExerciseScreen),
        ("History", HistoryScreen), ("Attempt", AttemptScreen), ("Diff", DiffScreen), ("Compare", CompareScreen),
        ("Try on a case", CasePickerScreen), ("Progress", ProgressScreen),
        ("Model", ModelScreen), ("Help", HelpScreen),
    ]


def run_app(exercise_dirs: list[str], index_builder: "IndexBuilder | None" = None) -> int:
    """Open the lab; returns the process exit code."""
    app = LabApp(exercise_dirs, index_builder=index_builder)
    app.run()
    # quit before the builder answered or the check ended; a builder that answered is writing the
    # index for next time and ends by itself in a moment
    if index_builder is not None and not index_builder.answered:
        index_builder.stop()
    if app.validation is not None and app.validation.poll() is None:
        app.validation.kill()
        app.validation.wait()
    code = int(app.return_code or 0)
    if app.session is not None:
        app.session.abandon_in_flight()
    if calls_in_flight():
        # A model call abandoned on quitting is still blocked in the network, and the interpreter
        # joins the engine's call threads at exit (up to the call timeout). Everything the learner
        # did is already committed to the store, so leave now rather than make them wait.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if app.session is not None:
        app.session.store.close()  # the last connection to close removes lab.db-wal and -shm
    return code


def calls_in_flight() -> bool:
    return any(t.is_alive() and t.name.startswith(("lab-call", "lab-attempt")) for t in threading.enumerate())
