"""What the app knows about the learner's lab: the catalog, the store and the settings.

Plain Python (no Textual) so it loads in a worker thread and can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from lab.errors import LabError
from lab.format.catalog import CatalogIndex, IndexEntry, UnloadableExercise, load_index, open_entry
from lab.format.exercise import Exercise
from lab.practice.store import AttemptRecord, ExerciseProgress, Store
from lab.settings.calls import CallConfig
from lab.settings.config import Settings, load_settings, settings_warnings
from lab.tui.summary import CatalogRow

if TYPE_CHECKING:
    from lab.practice.mastery import MasteryReport

NO_MODEL_MESSAGE = (
    "No model chosen yet, so sending is off. Press m to pick one: with no API key and no server, pick "
    "'Built-in, offline (very small)'. Or set LAB_MODEL, e.g. LAB_MODEL=openai/gpt-4o-mini with OPENAI_API_KEY set."
)


@dataclass
class LabSession:
    catalog: CatalogIndex
    store: Store
    settings: Settings
    settings_error: str | None = None
    settings_warnings: list[str] = field(default_factory=list)
    session_overrides: dict[str, str | None] = field(default_factory=dict)
    in_flight: set[int] = field(default_factory=set)  # attempts whose model calls have not returned
    loaded: dict[str, Exercise] = field(default_factory=dict)  # fully validated this session, by id

    @classmethod
    def open(cls, exercise_dirs: Sequence[str] = (), catalog: CatalogIndex | None = None) -> "LabSession":
        """Load everything the lab needs (the catalogue unless given); a broken config file falls back to the
        defaults with a message."""
        settings_error = None
        try:
            settings = load_settings()
            settings_error = " ".join(settings_warnings()) or None  # shown at start-up like a broken file
        except LabError as exc:
            settings_error = str(exc)
            settings = Settings.model_construct()
        catalog = catalog if catalog is not None else load_index(list(exercise_dirs))
        return cls(catalog, Store(), settings, settings_error, settings_warnings=settings_warnings())

    # ------------------------------------------------------------------ exercises
    @property
    def exercises(self) -> list[IndexEntry]:
        """What the catalog lists (the index's entries; `open_exercise` loads one fully)."""
        return self.catalog.exercises

    def entry(self, exercise_id: str) -> IndexEntry | None:
        return next((e for e in self.catalog.exercises if e.id == exercise_id), None)

    def open_exercise(self, exercise_id: str) -> Exercise:
        """The exercise fully loaded and validated (once a session); raises LabError naming its problems."""
        exercise = self.loaded.get(exercise_id)
        if exercise is None:
            entry = self.catalog.find(exercise_id)
            try:
                exercise = self.loaded[exercise_id] = open_entry(entry)
            except UnloadableExercise as exc:
                self.catalog.mark_broken(entry, exc.problems)
                raise
        return exercise

    def progress(self) -> dict[str, ExerciseProgress]:
        return self.store.progress()

    def next_exercise(self, exercise_id: str) -> IndexEntry | None:
        """The exercise after this one in catalog order (track, level, id), wrapping to the start."""
        listed = self.catalog.exercises
        ids = [e.id for e in listed]
        if exercise_id not in ids or len(ids) < 2:
            return None
        return listed[(ids.index(exercise_id) + 1) % len(ids)]

    def continue_exercise(self) -> IndexEntry | None:
        last = self.store.last_exercise()
        return self.entry(last) if last else None

    def attempts(self, exercise_id: str) -> list[AttemptRecord]:
        return self.store.attempts(exercise_id)

    def abandon_in_flight(self) -> None:
        """Record the attempts still waiting for a model as cancelled (the lab is closing)."""
        for attempt_id in list(self.in_flight):
            self.store.cancel_if_running(attempt_id, "The lab was closed while the model was answering.")
        self.in_flight.clear()

    # ------------------------------------------------------------------ model
    def reload_settings(self) -> None:
        try:
            # model_copy, not load_settings(**overrides): an override may be None ("no API base")
            self.settings = load_settings().model_copy(update=self.session_overrides)
            # a model chosen in the lab comes with its own API base: the LAB_MODEL pairing no longer applies
            self.settings_error = " ".join(settings_warnings(**self.session_overrides)) or None
        except LabError as exc:
            self.settings_error = str(exc)

    def choose_model(self, model: str, api_base: str | None) -> None:
        """Use this model for the rest of the session, whatever the environment says."""
        self.session_overrides = {"model": model, "api_base": api_base}
        self.reload_settings()

    def call_config(self) -> CallConfig | None:
        return self.settings.call_config()

    def judge_config(self) -> CallConfig | None:
        return self.settings.judge_call_config() if self.settings.model else None

    # ------------------------------------------------------------------ progress
    def rows(self) -> list[CatalogRow]:
        """Every exercise in catalog order with the learner's status and best score."""
        from lab.format.offline import offline_marker

        progress = self.progress()
        is_offline = offline_marker()
        rows = []
        for e in self.catalog.exercises:
            p = progress.get(e.id)
            rows.append(CatalogRow(e.id, e.title, e.track, e.level, tuple(e.skills), p.status if p else "new",
                                   p.best_score if p else None, p.attempts if p else 0, is_offline(e.id, e.root)))
        return rows

    def learnt(self) -> "MasteryReport":
        """Mastery per track and skill and the suggested next exercise, by docs/mastery.md: the very
        computation `lab progress` makes, over the same catalogue and attempts, so the figures match."""
        from lab.practice.mastery import infos_from_catalog, mastery, tries_from_attempts

        return mastery(infos_from_catalog(self.catalog.exercises), tries_from_attempts(self.store.attempts()))

    def score_history(self, limit: int = 60) -> list[AttemptRecord]:
        """Graded attempts, oldest first (the last `limit`)."""
        graded = [a for a in self.store.attempts(limit=limit * 3) if a.status == "graded" and a.score is not None]
        return list(reversed(graded[:limit]))
