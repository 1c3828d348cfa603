"""The catalog: every track with its exercises, the learner's status in each, and filters.

This is the first screen, so it imports nothing of the engine at module level. The first frame
draws the catalog cached by the previous run (`lab.tui.summary`); the session arrives from the
start-up worker through `session_ready` and redraws it from the real files and store.

The list is an OptionList of pre-aligned lines rather than a DataTable: drawing a DataTable's
cells cost about 40 ms of the first frame, an OptionList about 13 ms (bench/tui_startup.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from lab.format.offline import MARK as OFFLINE_MARK
from lab.practice.report import clip
from lab.tui.format import bar, score_text, status_mark
from lab.tui.screens.base import LabScreen
from lab.tui.summary import CatalogRow, by_track, load_cached, save_cached

if TYPE_CHECKING:
    from lab.format.catalog import CatalogIndex
    from lab.tui.session import LabSession

STATUSES = ("new", "tried", "passed")
CHECKING = "Checking the exercises…"  # the info line while the session loads behind the index's rows
HEADINGS = (" ", "Track", "Exercise", "Lvl", "Skills", "Best")


class ExerciseList(OptionList):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("enter", "select", "Open", id="catalog.open", tooltip="Open the highlighted exercise."),
        Binding("j", "cursor_down", "Down", id="catalog.down", show=False, tooltip="Move down the list."),
        Binding("k", "cursor_up", "Up", id="catalog.up", show=False, tooltip="Move up the list."),
    ]

    @property
    def ids(self) -> list[str]:
        return [str(self.get_option_at_index(i).id) for i in range(self.option_count)]

    def line_of(self, exercise_id: str) -> str:
        return str(self.get_option(exercise_id).prompt)


def columns(rows: list[CatalogRow], width: int) -> list[int]:
    """Column widths for the list: the title gets what the others leave, skills whatever remains."""
    track = min(max([len(r.track) for r in rows] + [5]), 20)
    title = min(max([len(r.title) for r in rows] + [8]), 48)
    fixed = 1 + track + 3 + 4 + 5  # mark, track, level, best and the gaps
    title = max(16, min(title, width - fixed - 5 - SKILLS_AT_LEAST))
    skills = max(6, width - fixed - title - 5)
    return [1, track, title, 3, skills, 4]


SKILLS_AT_LEAST = 12  # a whole skill and a count of the others ("clarity +1"), at 80 columns too


def fit_skills(skills: tuple[str, ...], width: int) -> str:
    """As many whole skills as fit, then how many more ("delimiters +1"): a skill cut to six letters says nothing."""
    for shown in range(len(skills), 0, -1):
        rest = len(skills) - shown
        text = ", ".join(skills[:shown]) + (f" +{rest}" if rest else "")
        if len(text) <= width:
            return text
    return skills[0] if skills else ""  # longer than the column: clipped like any other cell


def line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(clip(c, w).ljust(w) if i != 5 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()


MAX_TRACK_LINES = 6
REST_PER_FRAME = 100  # rows added to the list per frame after the first screenful
REST_AFTER_TYPING_S = 0.15  # after a typed filter change, the rest is listed once typing pauses this long



_SEPARATORS = re.compile(r"[-_/.,:;]+")


def _words(text: str) -> str:
    """Text as the filter compares it: lower case, with `-`, `_`, `/` … read as spaces, so that
    "three bullets" finds `three-bullets`."""
    return _SEPARATORS.sub(" ", text.lower())


def _haystack(row: CatalogRow) -> str:
    """What the filter searches in a row: its title, id and skills."""
    return _words(" ".join([row.title, row.id, *row.skills]))


def matching(rows: list[CatalogRow], haystacks: list[str], words: list[str]) -> list[CatalogRow]:
    """The rows in which every typed word occurs (title, id or skills, in any order); `haystacks` are the
    rows' search texts, built once per list of rows rather than once per row and keystroke."""
    if not words:
        return rows
    if len(words) == 1:  # the usual case while typing, and twice as quick without all()
        word = words[0]
        return [row for row, haystack in zip(rows, haystacks) if word in haystack]
    return [row for row, haystack in zip(rows, haystacks) if all(word in haystack for word in words)]

class CatalogScreen(LabScreen):
    NAMESPACE = "Catalog"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("c", "continue", "Continue", id="catalog.continue", tooltip="Reopen the exercise you worked on last."),
        Binding("n", "suggest_next", "Next", id="catalog.next",
                tooltip="Highlight the exercise to try next (your weakest skill, its easiest one not passed) and say why."),
        # /, t and s are shown in the filter line, next to what they change, rather than in the footer
        Binding("slash", "focus_filter", "Filter", id="catalog.filter", show=False, tooltip="Type to filter by title, id or skill."),
        Binding("t", "cycle_track", "Track", id="catalog.track", show=False, tooltip="Show one track, the next one, ... then all tracks."),
        Binding("s", "cycle_status", "Status", id="catalog.status", show=False, tooltip="Show only new, tried or passed exercises, then all."),
        Binding("l", "cycle_level", "Level", id="catalog.level", show=False, tooltip="Show one level, 1 to 5, then every level."),
        Binding("o", "toggle_offline", "Offline", id="catalog.offline", show=False,
                tooltip="Show only the exercises marked ⌂: those you can practise with no key and no server, on the built-in model."),
        Binding("escape", "clear_filter", "Clear filters", id="catalog.clear-filter", show=False,
                tooltip="Empty the filters and go back to the list."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session: LabSession | None = None
        self.rows: list[CatalogRow] = []
        self.info = "Loading exercises…"
        self.track: str | None = None
        self.status: str | None = None
        self._pending_open: str | None = None
        self._listed_width = 0
        self._shown: dict[str, str | Content] = {}  # the text last put in each Static by _show
        self._rest_of_list: list[CatalogRow] = []  # listed right after the frame (their options built then)
        self._rest_widths: list[int] = []
        self._rest_track: str | None = None
        self._listed_count = 0
        self._rest_generation = 0  # a new list stops the slices of the old one (_list_the_rest)
        self.level: int | None = None
        self.offline_only = False
        self._searched_rows: list[CatalogRow] | None = None  # the rows _haystacks were built for
        self._haystacks: list[str] = []
        self._clearable: bool | None = None  # what the footer's keys were last refreshed for (refresh_bindings)

    def compose(self) -> ComposeResult:
        # the cached catalog goes straight into the widgets: filling them after mounting would
        # lay out and draw the list a second time before the first frame
        if self.lab.session is None and not self.lab.load_error:
            cached = load_cached(self.lab.exercise_dirs)
            if cached is not None:
                self.rows, self.info = cached.rows, cached.info
            else:
                catalog = self.lab.first_catalog()
                if catalog is not None:
                    self.rows, self.info = self._new_rows(catalog), CHECKING
        rows = self._visible("")
        self._listed_width = self._width()
        # only the rows a terminal can show go into the first frame; the others follow right after it
        heading, on_screen = self._list_content(rows, max(self.app.size.height, 1))
        self._listed_count = len(rows)
        yield Header()
        with Vertical(id="catalog"):
            with Horizontal(id="filters"):
                # no select-on-focus: keys typed right after "/" would replace each other (the Focus event
                # lands after them and selects what they typed)
                yield Input(placeholder="/ filter: title, id or skill", id="filter-text", compact=True, select_on_focus=False)
                yield Static(self._filter_keys_text(), id="filter-keys")
            yield Static(self._tracks_text(), id="tracks")
            yield Static(heading, id="list-heading")
            yield ExerciseList(*on_screen, id="exercises")
            yield Static(self._info_text_for(len(rows)), id="catalog-info")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ExerciseList).focus()
        self._schedule_rest()
        if self.lab.session is not None:
            self.session_ready(self.lab.session)
        elif self.lab.load_error:
            self.session_failed(self.lab.load_error)

    def _schedule_rest(self, typing: bool = False) -> None:
        """List the rows below the first screenful after the frame; after a typed change, only once
        typing pauses: each slice lays the screen out again, which the next keystroke would wait for."""
        self._rest_generation += 1
        if not self._rest_of_list:
            return
        generation = self._rest_generation
        if typing:
            self.set_timer(REST_AFTER_TYPING_S, lambda: self._list_the_rest(generation=generation))
        else:
            self.call_after_refresh(self._list_the_rest, False, generation)

    def _list_the_rest(self, all_now: bool = False, generation: int | None = None) -> None:
        """Add the next rows below the first screenful, a slice per frame: a keystroke that comes
        meanwhile waits for one slice, never for the whole list (and a new list stops the old slices)."""
        rest = self._rest_of_list
        if not rest or (generation is not None and generation != self._rest_generation):
            return
        size = len(rest) if all_now else REST_PER_FRAME
        chunk, self._rest_of_list = rest[:size], rest[size:]
        self.query_one(ExerciseList).add_options(self._options(chunk, self._rest_widths, self._rest_track))
        self._rest_track = chunk[-1].track
        if self._rest_of_list:
            self.call_after_refresh(self._list_the_rest, False, self._rest_generation)

    # ------------------------------------------------------------------ data
    def session_ready(self, session: "LabSession") -> None:
        self.session = session
        self.refresh_catalog()
        if self._pending_open is not None:
            exercise_id, self._pending_open = self._pending_open, None
            self.lab.open_exercise(exercise_id)

    def catalog_listed(self, catalog: "CatalogIndex") -> None:
        """The catalogue's rows before the session is ready, on a first start (nothing tried yet, so every
        exercise is new); the session's rows replace them when it arrives."""
        if self.session is not None or self.rows:
            return
        self.rows, self.info = self._new_rows(catalog), CHECKING
        self._draw()

    @staticmethod
    def _new_rows(catalog: "CatalogIndex") -> list[CatalogRow]:
        from lab.format.offline import offline_marker

        is_offline = offline_marker()
        return [CatalogRow(e.id, e.title, e.track, e.level, tuple(e.skills), "new", None, 0, is_offline(e.id, e.root))
                for e in catalog.exercises]

    def session_failed(self, message: str) -> None:
        self._show("#catalog-info", Content(f"The lab could not start: {message}"))

    def on_screen_resume(self) -> None:
        if self.session is not None:
            self.refresh_catalog()

    def on_resize(self, event: events.Resize) -> None:
        if self._width() != self._listed_width:  # the columns depend on the width only
            self._fill_list()

    def _width(self) -> int:
        return max(40, self.app.size.width - 5)

    def refresh_catalog(self) -> None:
        if self.session is None:
            return
        self.rows = self.session.rows()
        self.info = self._info_text()
        self._draw()
        save_cached(self.lab.exercise_dirs, self.rows, self.info)
        self.refresh_bindings()

    def _draw(self) -> None:
        self._show_tracks()
        self._fill_list()
        self._show_info()

    def _tracks_text(self) -> str:
        lines = []
        tracks = by_track(self.rows)
        shown = tracks if len(tracks) <= MAX_TRACK_LINES else tracks[: MAX_TRACK_LINES - 1]
        for track in shown:
            lines.append(f"[b]{escape(track.name):<22}[/b] {bar(track.share_passed)}  "
                         f"[dim]{track.passed}/{track.exercises} passed · mean best {track.mean_best:.2f}[/dim]")
        if len(shown) < len(tracks):  # a course of many tracks would push the list off the screen
            lines.append(f"[dim]… and {len(tracks) - len(shown)} more tracks: t shows them one at a time[/dim]")
        return "\n".join(lines)

    def _filter_keys_text(self) -> str:
        # the offline filter is named only while it is on: at 80 columns the line already leaves the filter little room,
        # and the line under the list says what ⌂ means and that o shows only those
        return (f"track: [b]{escape(self.track or 'all')}[/b] (t) · level: [b]{self.level or 'any'}[/b] (l) · "
                f"status: [b]{self.status or 'any'}[/b] (s)" + (f" · [b]{OFFLINE_MARK} only[/b] (o)" if self.offline_only else ""))

    def _show_tracks(self) -> None:
        self._show("#tracks", self._tracks_text())
        self._show("#filter-keys", self._filter_keys_text())

    def _visible(self, text: str | None = None) -> list[CatalogRow]:
        if text is None:
            text = self.query_one("#filter-text", Input).value
        if self._searched_rows is not self.rows:  # rows are replaced, never changed in place
            self._searched_rows, self._haystacks = self.rows, [_haystack(r) for r in self.rows]
        return [r for r in matching(self.rows, self._haystacks, _words(text).split())
                if (self.track is None or r.track == self.track) and (self.status is None or r.status == self.status)
                and (self.level is None or r.level == self.level) and (r.offline or not self.offline_only)]

    def _fill_list(self, typing: bool = False) -> None:
        listing = self.query_one(ExerciseList)
        highlighted = listing.highlighted_option.id if listing.highlighted_option is not None else None
        rows = self._visible()
        self._listed_width = self._width()
        ids = [r.id for r in rows]
        keep = ids.index(highlighted) if highlighted in ids else 0
        # as in the first frame: the rows a terminal can show (and the highlighted one) now, the
        # others right after the frame, so a keystroke in the filter redraws at once at any size
        heading, page = self._list_content(rows, max(self.app.size.height, keep + 1, 1))
        self._listed_count = len(rows)
        self._show("#list-heading", heading)
        listing.set_options(page)
        if ids:
            listing.highlighted = keep
        self._schedule_rest(typing)

    def _list_content(self, rows: list[CatalogRow], page: int) -> tuple[Content, list[Option]]:
        """The heading and the options of the first `page` rows; the rest wait in `_rest_of_list`, their
        options built after the frame (a thousand of them cost a frame's time)."""
        widths = columns(self.rows or rows, self._listed_width)
        self._rest_of_list, self._rest_widths = rows[page:], widths
        self._rest_track = rows[page - 1].track if 0 < page <= len(rows) else None
        return Content.styled(line(HEADINGS, widths), "bold"), self._options(rows[:page], widths)

    @staticmethod
    def _options(rows: list[CatalogRow], widths: list[int], previous_track: str | None = None) -> list[Option]:
        options = []
        for row in rows:
            level = f"{row.level} {OFFLINE_MARK}" if row.offline else str(row.level)
            cells = (status_mark(row.status), row.track if row.track != previous_track else "", row.title, level,
                     fit_skills(row.skills, widths[4]), score_text(row.best, row.status == "passed"))
            options.append(Option(Content(line(cells, widths)), id=row.id))
            previous_track = row.track
        return options

    def _info_text(self) -> str:
        """What to continue, which model, what is broken: from the live session."""
        assert self.session is not None
        lines = []
        last = self.session.continue_exercise()
        if last is not None:
            lines.append(f"Continue where you left off: [b]{escape(last.title)}[/b] — press c.")
        if any(r.offline for r in self.rows):
            lines.append(f"{OFFLINE_MARK} beside the level: you can practise it offline, on the built-in model (o shows only those).")
        if self.session.settings.model:
            base = f" at {self.session.settings.api_base}" if self.session.settings.api_base else ""
            lines.append(f"Model: {escape(self.session.settings.model)}{escape(base)} (m to change).")
        else:
            from lab.tui.session import NO_MODEL_MESSAGE

            lines.append(f"[b $warning]{escape(NO_MODEL_MESSAGE)}[/]")
        broken = len(self.session.catalog.broken_files)
        if broken:
            lines.append(f"{broken} exercise file(s) could not be loaded; `lab validate` lists the problems.")
            first = self.session.catalog.problems[0] if self.session.catalog.problems else None
            if first is not None:
                where = f"{first.path.name}:{first.line}" if first.line else first.path.name  # the full path would be cut
                lines.append(f"[dim]first: {escape(where)}: {escape(first.message)}[/dim]")
        return "\n".join(lines)

    def _show_info(self) -> None:
        self._show("#catalog-info", self._info_text_for(self._listed_count))

    def _show(self, selector: str, text: "str | Content") -> None:
        """Update a Static only when its text changes: each update lays the whole screen out again,
        which is most of a filter keystroke's time when the line under the list stays the same."""
        if self._shown.get(selector) != text:
            self._shown[selector] = text
            self.query_one(selector, Static).update(text)

    def _info_text_for(self, listed: int) -> str:
        if listed:
            first = "enter opens the highlighted exercise."
        elif self.rows:
            first = "No exercise matches the filters: press escape to clear them."
        else:
            first = "No exercises found. Add .j2 files under an exercise folder (see docs/authoring.md)." if self.session else ""
        return "\n".join(part for part in (first, self.info) if part)

    def _refilter(self) -> None:
        self._show_tracks()
        self._fill_list()
        self._show_info()
        self.refresh_bindings()

    # ------------------------------------------------------------------ events and actions
    def on_input_changed(self, event: Input.Changed) -> None:
        self._refilter_text()

    def _refilter_text(self) -> None:
        """The typed filter changed: the track lines and the filter keys' line stay as they are, and so
        do the footer's keys unless the text decides one (the footer is rebuilt on each refresh_bindings,
        a third of a keystroke's time over a large course)."""
        self._fill_list(typing=True)
        self._show_info()
        if self.can_run("clear_filter") != self._clearable:
            self.refresh_bindings()

    def refresh_bindings(self) -> None:
        self._clearable = self.can_run("clear_filter")
        super().refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.set_focus(self.query_one(ExerciseList))  # at once: the next key goes to the list

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        exercise_id = str(event.option.id)
        if self.session is None:  # chosen from the cached catalog: open it once the files are loaded
            self._pending_open = exercise_id
            self._show("#catalog-info", "Opening as soon as the exercises are loaded…")
            return
        self.lab.open_exercise(exercise_id)

    def can_run(self, action: str) -> bool:
        if action == "continue":
            return self.session is not None and self.session.store.last_exercise() is not None
        if action == "clear_filter":
            text = self.query_one("#filter-text", Input).value if self.is_mounted else ""
            return bool(text or self.track or self.status or self.offline_only) or isinstance(self.focused, Input)
        return True

    def action_continue(self) -> None:
        last = self.session.continue_exercise() if self.session is not None else None
        if last is None:
            self.notify("Nothing to continue yet: open an exercise with enter.")
            return
        self.lab.open_exercise(last.id)

    def action_suggest_next(self) -> None:
        """rustlings' `n`: the suggestion of lab.practice.mastery (docs/mastery.md), highlighted in the list with its reason."""
        if self.session is None:
            self.notify("The exercises are still loading: press n again in a moment.")
            return
        suggestion = self.session.learnt().next
        if suggestion is None:
            self.notify("Every exercise is passed: there is nothing left to suggest.", title="Next")
            return
        self._highlight(suggestion.exercise)
        entry = self.session.entry(suggestion.exercise)
        title = entry.title if entry is not None else suggestion.exercise
        # markup=False: titles and skills are the authors' text, never markup
        self.notify(f"{title} ({suggestion.exercise}). {suggestion.reason} Press enter to open it.", title="Next", markup=False,
                    timeout=10)

    def _highlight(self, exercise_id: str) -> None:
        """Highlight an exercise in the list, clearing the filters first when they hide it."""
        if exercise_id not in [r.id for r in self._visible()]:
            self.query_one("#filter-text", Input).value = ""
            self.track = self.status = self.level = None
            self.offline_only = False
            self._refilter()
        listing = self.query_one(ExerciseList)
        self._list_the_rest(all_now=True)  # the suggestion may lie below the rows drawn so far
        if exercise_id in listing.ids:
            listing.highlighted = listing.ids.index(exercise_id)
        self.set_focus(listing)

    def action_focus_filter(self) -> None:
        self.set_focus(self.query_one("#filter-text", Input))  # at once, so a fast typist loses no key

    def action_cycle_track(self) -> None:
        tracks = [m.name for m in by_track(self.rows)]
        order: list[str | None] = [None, *tracks]
        self.track = order[(order.index(self.track) + 1) % len(order)] if self.track in order else None
        self._refilter()

    def action_cycle_level(self) -> None:
        order: list[int | None] = [None, 1, 2, 3, 4, 5]
        self.level = order[(order.index(self.level) + 1) % len(order)]
        self._refilter()

    def action_toggle_offline(self) -> None:
        self.offline_only = not self.offline_only
        self._refilter()

    def action_cycle_status(self) -> None:
        order: list[str | None] = [None, *STATUSES]
        self.status = order[(order.index(self.status) + 1) % len(order)]
        self._refilter()

    def action_clear_filter(self) -> None:
        self.query_one("#filter-text", Input).value = ""
        self.track = self.status = self.level = None
        self.offline_only = False
        self._refilter()
        self.set_focus(self.query_one(ExerciseList))
