"""Mastery: how well a learner has learnt each skill and track, and what to practise next (docs/mastery.md).

Pure functions over plain data: the learner's store and a cohort's results are turned into `Try`
values by the callers' adapters below, so the same definition serves `lab progress`, the TUI and
`lab certify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from lab.format.curriculum import curriculum_order

HINT_COST = 0.05  # credit lost per hint revealed before the first pass
PASS_FLOOR = 0.85  # a pass is worth at least this much, however many hints it took
PARTIAL_SHARE = 0.5  # an exercise not passed is worth at most half its best score
MASTERED, PRACTISING = 0.85, 0.4
# mastery figures are rounded before banding: a weighted mean of 0.85s must not fall to 0.8499999 and miss "mastered"
DIGITS = 6


@dataclass(frozen=True)
class ExerciseInfo:
    """What mastery needs to know of an exercise: where it sits and what it trains."""

    id: str
    track: str
    level: int
    skills: tuple[str, ...]

    @property
    def order(self) -> tuple[int, str, int, str]:
        return curriculum_order(self.track, self.level, self.id)


@dataclass(frozen=True)
class Try:
    """One attempt at an exercise, oldest first in any sequence of them. Only `graded` ones count."""

    exercise: str
    status: str
    score: float | None
    passed: bool | None
    hints_used: int = 0
    exercise_hash: str | None = None


@dataclass(frozen=True)
class ExerciseCredit:
    exercise: str
    tried: bool  # at least one graded attempt
    passed: bool
    credit: float
    best_score: float | None
    hints_before_pass: int | None  # None when not passed
    score: float | None  # the score certificates show: the first passing attempt's, else the best
    exercise_hash: str | None  # the version that score was earned on


@dataclass(frozen=True)
class TrackMastery:
    track: str
    mastery: float
    band: str
    passed: int
    exercises: int
    not_passed: tuple[str, ...]


@dataclass(frozen=True)
class SkillMastery:
    skill: str
    mastery: float
    band: str


@dataclass(frozen=True)
class Suggestion:
    exercise: str
    reason: str


@dataclass(frozen=True)
class MasteryReport:
    tracks: list[TrackMastery]
    skills: list[SkillMastery]
    next: Suggestion | None
    credits: dict[str, ExerciseCredit]

    def track(self, name: str) -> TrackMastery | None:
        return next((t for t in self.tracks if t.track == name), None)


def band(mastery: float) -> str:
    if mastery >= MASTERED:
        return "mastered"
    if mastery >= PRACTISING:
        return "practising"
    if mastery > 0:
        return "started"
    return "not started"


def pass_credit(hints: int) -> float:
    return max(PASS_FLOOR, 1.0 - HINT_COST * max(0, hints))


def exercise_credit(exercise_id: str, tries: Iterable[Try]) -> ExerciseCredit:
    """The credit of one exercise from its attempts, oldest first. Retries cost nothing; only graded
    attempts count (not_sent, interrupted, cancelled and failed ones were not a try at the exercise)."""
    graded = [t for t in tries if t.status == "graded" and t.exercise == exercise_id]
    scores = [t.score for t in graded if t.score is not None]
    best = max(scores) if scores else None
    first_pass = next((t for t in graded if t.passed), None)
    if first_pass is not None:
        return ExerciseCredit(exercise_id, True, True, pass_credit(first_pass.hints_used), best, first_pass.hints_used,
                              first_pass.score, first_pass.exercise_hash)
    best_try = max((t for t in graded if t.score is not None), key=lambda t: t.score or 0.0, default=None)
    credit = PARTIAL_SHARE * min(1.0, max(0.0, best)) if best is not None else 0.0
    return ExerciseCredit(exercise_id, bool(graded), False, credit, best, None, best,
                          best_try.exercise_hash if best_try else None)


def credits(exercises: Sequence[ExerciseInfo], tries: Iterable[Try]) -> dict[str, ExerciseCredit]:
    by_exercise: dict[str, list[Try]] = {}
    for t in tries:
        by_exercise.setdefault(t.exercise, []).append(t)
    return {e.id: exercise_credit(e.id, by_exercise.get(e.id, [])) for e in exercises}


def weighted(exercises: Sequence[ExerciseInfo], credit: dict[str, ExerciseCredit]) -> float:
    """Σ level × credit / Σ level; an exercise with no credit entry (untried) counts 0."""
    total = sum(max(1, e.level) for e in exercises)
    if not total:
        return 0.0
    earned = sum(max(1, e.level) * (credit[e.id].credit if e.id in credit else 0.0) for e in exercises)
    return round(earned / total, DIGITS)


def skill_order(exercises: Sequence[ExerciseInfo]) -> list[str]:
    """Skills in curriculum order: as they first appear walking the exercises in curriculum order."""
    seen: dict[str, None] = {}
    for e in sorted(exercises, key=lambda x: x.order):
        for s in e.skills:
            seen.setdefault(s, None)
    return list(seen)


def track_order(exercises: Sequence[ExerciseInfo]) -> list[str]:
    seen: dict[str, None] = {}
    for e in sorted(exercises, key=lambda x: x.order):
        seen.setdefault(e.track, None)
    return list(seen)


def track_mastery(track: str, exercises: Sequence[ExerciseInfo], credit: dict[str, ExerciseCredit]) -> TrackMastery:
    mine = sorted((e for e in exercises if e.track == track), key=lambda x: x.order)
    value = weighted(mine, credit)
    passed = [e.id for e in mine if e.id in credit and credit[e.id].passed]
    return TrackMastery(track, value, band(value), len(passed), len(mine), tuple(e.id for e in mine if e.id not in passed))


def next_exercise(exercises: Sequence[ExerciseInfo], credit: dict[str, ExerciseCredit],
                  skills: Sequence[SkillMastery]) -> Suggestion | None:
    """The weakest skill (ties by curriculum order) that still has an exercise not passed, and its
    lowest-level such exercise; exercises training no skill come last. None when everything is passed."""
    todo = sorted((e for e in exercises if not (e.id in credit and credit[e.id].passed)), key=lambda x: x.order)
    if not todo:
        return None
    rank = {s.skill: i for i, s in enumerate(skills)}
    for s in sorted(skills, key=lambda s: (s.mastery, rank[s.skill])):
        training = [e for e in todo if s.skill in e.skills]
        if training:
            pick = min(training, key=lambda e: (e.level, e.order))
            return Suggestion(pick.id, f"Your weakest skill is {s.skill} ({s.mastery:.2f}): "
                                       "this is its easiest exercise you have not passed yet.")
    pick = min(todo, key=lambda e: (e.level, e.order))
    return Suggestion(pick.id, f"Every skill's exercises are passed; {pick.id} (track {pick.track}) is the easiest one left.")


def mastery(exercises: Sequence[ExerciseInfo], tries: Iterable[Try]) -> MasteryReport:
    """Tracks, skills and the next exercise over `exercises` (the catalogue, or a cohort's assignment)."""
    credit = credits(exercises, tries)
    tracks = [track_mastery(t, exercises, credit) for t in track_order(exercises)]
    skills = []
    for skill in skill_order(exercises):
        value = weighted([e for e in exercises if skill in e.skills], credit)
        skills.append(SkillMastery(skill, value, band(value)))
    return MasteryReport(tracks, skills, next_exercise(exercises, credit, skills), credit)


# ---------------------------------------------------------------- adapters


def tries_from_attempts(attempts: Iterable[Any]) -> list[Try]:
    """The learner's store (`Store.attempts()`, newest first) as tries, oldest first."""
    rows = sorted(attempts, key=lambda a: a.id)
    return [Try(a.exercise_id, a.status, a.score, a.passed, int(a.hints_used or 0), a.exercise_hash) for a in rows]


def tries_from_results(results: Iterable[Any]) -> dict[str, list[Try]]:
    """A cohort's results (`CohortStore.iter_results()`, which carries the trainer's overrides and each
    submission's revealed hints) as tries per learner."""
    by: dict[str, list[Try]] = {}
    for r in results:
        by.setdefault(r.learner, []).append(Try(r.exercise, r.status, r.score, r.passed, r.hints_used, r.exercise_hash))
    return by


def infos_from_catalog(entries: Iterable[Any]) -> list[ExerciseInfo]:
    return [ExerciseInfo(e.id, e.track, int(e.level), tuple(e.skills)) for e in entries]


def cohort_exercises(results: Iterable[Any], levels: Mapping[str, int]) -> tuple[list[ExerciseInfo], list[str]]:
    """The exercises a cohort's mastery is computed over (docs/mastery.md, "In a cohort"): every exercise
    with a result in `cohort.db`, its track and skills as graded, its level from the trainer's catalogue
    (`levels`); and the ids not found there, which weigh 1."""
    found: dict[str, ExerciseInfo] = {}
    for r in results:
        if r.exercise not in found:
            found[r.exercise] = ExerciseInfo(r.exercise, r.track, int(levels.get(r.exercise, 1)), tuple(r.skills))
    infos = sorted(found.values(), key=lambda e: e.order)
    return infos, [e.id for e in infos if e.id not in levels]
