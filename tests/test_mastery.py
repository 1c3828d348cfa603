"""Mastery (docs/mastery.md): credit per exercise, level weights, bands, and the next exercise."""

from __future__ import annotations

import itertools
import json

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.practice.mastery import ExerciseInfo, Try, band, exercise_credit, mastery, next_exercise, tries_from_attempts
from lab.practice.store import Store

E = ExerciseInfo


def graded(exercise: str, score: float, passed: bool, hints: int = 0) -> Try:
    return Try(exercise, "graded", score, passed, hints)


CATALOGUE = [
    E("prompt-engineering/a", "prompt-engineering", 1, ("clarity",)),
    E("prompt-engineering/b", "prompt-engineering", 2, ("clarity", "few-shot")),
    E("prompt-engineering/c", "prompt-engineering", 3, ("few-shot",)),
    E("adversarial/x", "adversarial", 1, ("injection",)),
]


def test_a_pass_is_worth_one_less_five_hundredths_a_hint_before_it_floored_at_085():
    assert exercise_credit("e", [graded("e", 1.0, True)]).credit == 1.0
    assert exercise_credit("e", [graded("e", 0.9, True, hints=2)]).credit == pytest.approx(0.9)
    assert exercise_credit("e", [graded("e", 0.9, True, hints=9)]).credit == 0.85
    # only hints before the FIRST pass count; later attempts (with more hints) change nothing
    tries = [graded("e", 0.2, False, hints=0), graded("e", 1.0, True, hints=1), graded("e", 1.0, True, hints=5)]
    assert exercise_credit("e", tries).credit == pytest.approx(0.95)


def test_not_passed_is_half_the_best_score_and_retries_cost_nothing():
    tries = [graded("e", 0.3, False), graded("e", 0.7, False), graded("e", 0.4, False)]
    credit = exercise_credit("e", tries)
    assert credit.passed is False and credit.credit == pytest.approx(0.35) and credit.best_score == 0.7
    # twenty failed tries then a pass: still full credit
    assert exercise_credit("e", [graded("e", 0.1, False)] * 20 + [graded("e", 1.0, True)]).credit == 1.0


@pytest.mark.parametrize("status", ["not_sent", "interrupted", "failed", "cancelled", "running"])
def test_attempts_that_were_not_graded_do_not_count(status: str):
    credit = exercise_credit("e", [Try("e", status, 1.0, True, 0)])
    assert credit == exercise_credit("e", [])
    assert credit.tried is False and credit.passed is False and credit.credit == 0.0


def test_bands():
    assert [band(v) for v in (1.0, 0.85, 0.849, 0.4, 0.399, 0.01, 0.0)] == [
        "mastered", "mastered", "practising", "practising", "started", "started", "not started"]


def test_levels_weigh_and_untried_exercises_count_zero():
    report = mastery(CATALOGUE, [graded("prompt-engineering/a", 1.0, True), graded("prompt-engineering/c", 0.6, False)])
    pe = report.track("prompt-engineering")
    # (1 × 1.0 + 2 × 0 + 3 × 0.3) / 6
    assert pe.mastery == pytest.approx(1.9 / 6, abs=1e-6) and pe.band == "started"
    assert (pe.passed, pe.exercises, pe.not_passed) == (1, 3, ("prompt-engineering/b", "prompt-engineering/c"))
    skills = {s.skill: s.mastery for s in report.skills}
    assert skills["clarity"] == pytest.approx(1 / 3, abs=1e-6)  # (1 × 1.0 + 2 × 0) / 3
    assert skills["few-shot"] == pytest.approx(0.9 / 5, abs=1e-6)  # (2 × 0 + 3 × 0.3) / 5
    assert skills["injection"] == 0.0
    assert [s.skill for s in report.skills] == ["clarity", "few-shot", "injection"]  # curriculum order
    assert report.track("adversarial").band == "not started"


@pytest.mark.parametrize("hints", [0, 1, 3, 4, 50])
def test_passing_every_exercise_of_a_track_masters_it_however_many_hints(hints: int):
    # many tracks shapes: levels 1..5 in every mix, passed after failures, with any number of hints
    for levels in itertools.product((1, 2, 3, 5), repeat=3):
        exercises = [E(f"t/e{i}", "t", level, ("s",)) for i, level in enumerate(levels)]
        tries = [t for e in exercises for t in (graded(e.id, 0.1, False, 0), graded(e.id, 0.9, True, hints))]
        report = mastery(exercises, tries)
        assert report.track("t").band == "mastered", (levels, hints, report.track("t"))
        assert report.skills[0].band == "mastered"
        assert report.next is None


def test_next_exercise_is_the_weakest_skills_easiest_exercise_not_passed():
    tries = [graded("prompt-engineering/a", 1.0, True), graded("adversarial/x", 1.0, True), graded("prompt-engineering/c", 0.6, False)]
    report = mastery(CATALOGUE, tries)
    # few-shot (0.18) is weaker than clarity (0.33); its easiest exercise not passed is b (level 2)
    assert report.next is not None and report.next.exercise == "prompt-engineering/b"
    assert report.next.reason == "Your weakest skill is few-shot (0.18): this is its easiest exercise you have not passed yet."


def test_ties_go_by_curriculum_order_and_a_skill_with_everything_passed_is_skipped():
    exercises = [E("adversarial/x", "adversarial", 1, ("injection",)), E("prompt-engineering/a", "prompt-engineering", 1, ("clarity",))]
    assert mastery(exercises, []).next.exercise == "prompt-engineering/a"  # both 0: prompt-engineering comes first
    # clarity passed with many hints stays below 1.0 but has nothing left: injection is suggested
    report = mastery(exercises, [graded("prompt-engineering/a", 1.0, True, hints=9)])
    assert report.next.exercise == "adversarial/x" and "injection (0.00)" in report.next.reason


def test_an_exercise_training_no_skill_is_suggested_last():
    exercises = [E("t/plain", "t", 1, ()), E("t/skilled", "t", 2, ("s",))]
    assert mastery(exercises, []).next.exercise == "t/skilled"
    report = mastery(exercises, [graded("t/skilled", 1.0, True)])
    assert report.next.exercise == "t/plain" and "easiest one left" in report.next.reason
    assert next_exercise(exercises, report.credits, report.skills) == report.next


def test_the_learners_store_becomes_tries_oldest_first():
    with Store() as store:
        for status, score, passed, hints in (("graded", 0.2, False, 0), ("not_sent", None, None, 0), ("graded", 1.0, True, 2)):
            a = store.begin_attempt(exercise_id="t/e", exercise_hash="h", track="t", model="m", api_base=None, prompt="p", hints_used=hints)
            store.finish_attempt(a, status=status, score=score, passed=passed)
        tries = tries_from_attempts(store.attempts())
    assert [t.status for t in tries] == ["graded", "not_sent", "graded"]
    assert exercise_credit("t/e", tries).credit == pytest.approx(0.9)


# ---------------------------------------------------------------- lab progress

def course_of(root, *specs):
    for exercise_id, level, skills in specs:
        write_exercise(root, exercise_id + ".j2", minimal(id=exercise_id, title=exercise_id, track="zz", level=level, skills=list(skills)))
    return root


def record(exercise_id: str, score: float, passed: bool, hints: int = 0, status: str = "graded") -> None:
    with Store() as store:
        a = store.begin_attempt(exercise_id=exercise_id, exercise_hash="h", track="zz", model="m", api_base=None, prompt="p", hints_used=hints)
        store.finish_attempt(a, status=status, score=score, passed=passed)


def test_progress_json_has_mastery_per_track_and_skill_and_the_next_exercise(capsys, tmp_path):
    course = course_of(tmp_path / "course", ("zz/one", 1, ["zeta-skill"]), ("zz/two", 2, ["zeta-skill", "omega-skill"]))
    record("zz/one", 1.0, True, hints=2)
    record("zz/two", 0.6, False)
    record("zz/two", 1.0, True, status="failed")  # a failed call is not a pass
    assert main(["progress", "--json", "--exercises", str(course)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["mastery"]) == {"tracks", "skills", "next"}
    zz = next(t for t in data["mastery"]["tracks"] if t["track"] == "zz")
    assert zz == {"track": "zz", "mastery": round((0.9 + 2 * 0.3) / 3, 4), "band": "practising", "passed": 1, "exercises": 2}
    skills = {s["skill"]: s for s in data["mastery"]["skills"]}
    assert skills["omega-skill"] == {"skill": "omega-skill", "mastery": 0.3, "band": "started"}
    assert set(data["mastery"]["next"]) == {"exercise", "reason"} and data["mastery"]["next"]["reason"].startswith("Your weakest skill is ")


def test_progress_text_prints_each_tracks_band_and_the_suggestion(capsys, tmp_path):
    course = course_of(tmp_path / "course", ("zz/one", 1, ["zeta-skill"]))
    record("zz/one", 1.0, True)
    assert main(["progress", "--exercises", str(course)]) == 0
    out = capsys.readouterr().out
    assert "zz  ████████████████████  1/1 passed · 1 attempt(s) · mastered (1.00)" in out
    assert "prompt-engineering  " in out and " · not started (0.00)" in out
    assert [line for line in out.splitlines() if line.startswith("Next: ")][0].endswith("this is its easiest exercise you have not passed yet.")


def test_progress_says_so_when_everything_is_passed(capsys, tmp_path, monkeypatch):
    # only the course: LAB_HOME has no bundled curriculum of its own, so point the bundled folder at an empty one
    import lab.settings.paths

    empty = tmp_path / "none"
    empty.mkdir()
    monkeypatch.setattr(lab.settings.paths, "bundled_exercises_dir", lambda: empty)
    course = course_of(tmp_path / "course", ("zz/one", 1, ["zeta-skill"]))
    record("zz/one", 1.0, True)
    assert main(["progress", "--json", "--exercises", str(course)]) == 0
    assert json.loads(capsys.readouterr().out)["mastery"]["next"] is None
    assert main(["progress", "--exercises", str(course)]) == 0
    assert "Every exercise is passed." in capsys.readouterr().out
