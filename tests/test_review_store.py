"""cohort.db schema 2: the `reviews` table, an older cohort.db migrated in place, decisions replacing each other."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lab.classroom.cohort import MIGRATIONS, SCHEMA_VERSION, CohortStore
from lab.errors import LabError
from lab.settings.sqlite import _statements


def schema_one(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cohort.db"
    with sqlite3.connect(path) as db:
        for statement in _statements(MIGRATIONS[0]):
            db.execute(statement)
        db.execute("INSERT INTO submissions (key, learner, exercise, prompt, source, line, read_at) VALUES ('k', 'ana', 't/x', 'p', 'a.jsonl', 1, 'now')")
        db.execute("INSERT INTO results (learner, exercise, task, submission, prompt, exercise_hash, track, model, status, score, passed)"
                   " VALUES ('ana', 't/x', 'task', 'k', 'p', 'h', 'basics', 'openai/echo', 'graded', 0.5, 0)")
        db.execute("PRAGMA user_version = 1")
    return path


def test_a_schema_1_cohort_migrates_in_place(tmp_path: Path):
    schema_one(tmp_path / "c")
    with CohortStore(tmp_path / "c") as store:
        assert store.schema_version == SCHEMA_VERSION == 8
        [row] = store.results()
        assert (row.learner, row.score, row.passed, row.overridden) == ("ana", 0.5, False, ())
        assert store.reviews() == []
    with sqlite3.connect(tmp_path / "c" / "cohort.db") as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(reviews)")]
    assert columns == ["result_id", "criterion", "case_name", "sample", "scale", "judge_passed", "judge_score", "decision",
                       "trainer_passed", "trainer_score", "note", "reviewer", "at"]


def test_a_later_decision_replaces_the_earlier_and_each_is_committed_at_once(tmp_path: Path):
    schema_one(tmp_path / "c")
    store = CohortStore(tmp_path / "c")
    [row] = store.results(reviewed=False)
    common = dict(scale="1-5", judge_passed=False, judge_score=2.0, reviewer="tina")
    store.record_review(row.id, "rated", "only", 0, decision="confirm", trainer_passed=None, trainer_score=None, note=None, **common)
    # another connection sees it before this one is closed: nothing waits for a later commit
    with sqlite3.connect(tmp_path / "c" / "cohort.db") as db:
        assert db.execute("SELECT decision, reviewer FROM reviews").fetchall() == [("confirm", "tina")]
    store.record_review(row.id, "rated", "only", 0, decision="override", trainer_passed=True, trainer_score=4.0, note="fine by me", **common)
    [review] = store.reviews()
    assert (review.decision, review.trainer_passed, review.trainer_score, review.note) == ("override", True, 4.0, "fine by me")
    store.close()


def test_an_unknown_decision_is_refused(tmp_path: Path):
    with CohortStore(tmp_path / "c") as store:
        with pytest.raises(LabError, match=r"^Unknown review decision 'maybe': use one of confirm, override, skip\.$"):
            store.record_review(1, "x", "only", 0, scale="pass-fail", judge_passed=True, judge_score=1.0, decision="maybe",
                                trainer_passed=None, trainer_score=None, note=None, reviewer="tina")


def test_a_newer_schema_says_upgrade(tmp_path: Path):
    path = schema_one(tmp_path / "c")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 9")
    with pytest.raises(LabError, match=f"cohort schema 9, this one knows {SCHEMA_VERSION}"):
        CohortStore(tmp_path / "c")
