"""The cohort store: `DIR/cohort.db` (SQLite, WAL) holds a class's submissions, the trainer's grading of
each (learner, exercise), and every model call made for it.

Each call is committed the moment its answer arrives, and a grading reuses the calls recorded for it,
so a run killed at any point (kill -9 included) resumes without calling the model again for them.
Uniqueness is in the schema: one result per (learner, exercise), one row per call of a result.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

from lab.classroom.records import DECISIONS, RecordedCall, ResultRow, Review
from lab.errors import LabError
from lab.settings.sqlite import BUSY_TIMEOUT_S, Transaction, migrate, now, use_wal

MIGRATIONS: list[str] = [
    """
    CREATE TABLE submissions (
        key           TEXT PRIMARY KEY,
        learner       TEXT NOT NULL,
        exercise      TEXT NOT NULL,
        exercise_hash TEXT,
        prompt        TEXT NOT NULL,
        model         TEXT,
        created       TEXT,
        status        TEXT,
        score         REAL,
        passed        INTEGER,
        hints_used    INTEGER NOT NULL DEFAULT 0,
        outputs       TEXT NOT NULL DEFAULT '{}',
        source        TEXT NOT NULL,
        line          INTEGER NOT NULL,
        read_at       TEXT NOT NULL
    );
    CREATE TABLE results (
        id                INTEGER PRIMARY KEY,
        learner           TEXT NOT NULL,
        exercise          TEXT NOT NULL,
        task              TEXT NOT NULL,
        submission        TEXT NOT NULL REFERENCES submissions(key),
        prompt            TEXT NOT NULL,
        exercise_hash     TEXT NOT NULL,
        track             TEXT NOT NULL,
        skills            TEXT NOT NULL DEFAULT '[]',
        model             TEXT NOT NULL,
        judge_model       TEXT,
        status            TEXT NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'graded', 'ungraded', 'failed')),
        error             TEXT,
        score             REAL,
        passed            INTEGER,
        result            TEXT,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL,
        graded_at         TEXT,
        UNIQUE (learner, exercise)
    );
    CREATE TABLE calls (
        result_id         INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        call              TEXT NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('answer', 'judge')),
        text              TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL NOT NULL DEFAULT 0,
        created           TEXT NOT NULL,
        PRIMARY KEY (result_id, call)
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        model       TEXT NOT NULL,
        calls       INTEGER NOT NULL DEFAULT 0,
        cost_usd    REAL NOT NULL DEFAULT 0,
        graded      INTEGER NOT NULL DEFAULT 0,
        left_over   INTEGER NOT NULL DEFAULT 0,
        wall_s      REAL
    );
    """,
    # 2: the trainer's review of judged verdicts, one row per judged output (the latest decision; see lab/classroom/review.py)
    """
    CREATE TABLE reviews (
        result_id      INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        criterion      TEXT NOT NULL,
        case_name      TEXT NOT NULL,
        sample         INTEGER NOT NULL DEFAULT 0,
        scale          TEXT NOT NULL DEFAULT 'pass-fail',
        judge_passed   INTEGER,
        judge_score    REAL,
        decision       TEXT NOT NULL CHECK (decision IN ('confirm', 'override', 'skip')),
        trainer_passed INTEGER,
        trainer_score  REAL,
        note           TEXT,
        reviewer       TEXT NOT NULL,
        at             TEXT NOT NULL,
        PRIMARY KEY (result_id, criterion, case_name, sample)
    );
    """,
    # 3: each graded exercise's level as the trainer's catalogue had it (mastery's weight, docs/mastery.md), so
    # the report can be redrawn from cohort.db alone after a review
    """
    CREATE TABLE exercises (
        id    TEXT PRIMARY KEY,
        level INTEGER NOT NULL
    );
    """,
    # 4: the texts of a submission whose learner writes several (system and prompt, a prefill, turns), as JSON by name
    """
    ALTER TABLE submissions ADD COLUMN texts TEXT;
    ALTER TABLE results ADD COLUMN texts TEXT;
    """,
    # 5: arenas (lab/classroom/arena.py): each arena's exercises as the trainer's catalogue had them, every pair of
    # an attack and a defence with its grade, the model calls it made, and the trainer's reviews of its judged verdicts
    """
    CREATE TABLE arena_members (
        arena    TEXT NOT NULL,
        exercise TEXT NOT NULL,
        role     TEXT NOT NULL CHECK (role IN ('defend', 'attack')),
        level    INTEGER NOT NULL,
        pairing  TEXT,
        PRIMARY KEY (arena, exercise)
    );
    CREATE TABLE arena_pairs (
        id                INTEGER PRIMARY KEY,
        arena             TEXT NOT NULL,
        attacker          TEXT NOT NULL,
        defender          TEXT NOT NULL,
        attack_exercise   TEXT NOT NULL,
        defence_exercise  TEXT NOT NULL,
        task              TEXT NOT NULL,
        status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'graded', 'ungraded', 'failed')),
        held              INTEGER,
        score             REAL,
        error             TEXT,
        result            TEXT,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL,
        played_at         TEXT,
        UNIQUE (arena, attacker, defender)
    );
    CREATE TABLE arena_calls (
        pair_id           INTEGER NOT NULL REFERENCES arena_pairs(id) ON DELETE CASCADE,
        call              TEXT NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('answer', 'judge')),
        text              TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL NOT NULL DEFAULT 0,
        created           TEXT NOT NULL,
        PRIMARY KEY (pair_id, call)
    );
    CREATE TABLE arena_reviews (
        pair_id        INTEGER NOT NULL REFERENCES arena_pairs(id) ON DELETE CASCADE,
        criterion      TEXT NOT NULL,
        case_name      TEXT NOT NULL,
        sample         INTEGER NOT NULL DEFAULT 0,
        scale          TEXT NOT NULL DEFAULT 'pass-fail',
        judge_passed   INTEGER,
        judge_score    REAL,
        decision       TEXT NOT NULL CHECK (decision IN ('confirm', 'override', 'skip')),
        trainer_passed INTEGER,
        trainer_score  REAL,
        note           TEXT,
        reviewer       TEXT NOT NULL,
        at             TEXT NOT NULL,
        PRIMARY KEY (pair_id, criterion, case_name, sample)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
DATABASE = "cohort.db"


class CohortStore:
    """`DIR/cohort.db`. Safe to share between threads (writes are serialised by a lock)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabError(f"Cannot create the cohort folder {self.folder}: {exc.strerror}; choose another --out.") from exc
        self.path = self.folder / DATABASE
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._use_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LabError(f"{self.path}: the cohort database cannot be opened ({exc}); move it aside or choose another --out.") from exc

    def _use_wal(self) -> None:
        use_wal(self._db)

    def _migrate(self) -> None:
        """The whole schema in one write transaction, `user_version` read inside it (as lab/practice/store.py)."""
        with self._lock:
            migrate(self._db, MIGRATIONS, lambda version: LabError(
                f"{self.path} was written by a newer Prompt Lab (cohort schema {version}, this one knows {SCHEMA_VERSION}); upgrade Prompt Lab."))

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "CohortStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _tx(self) -> Transaction:
        return Transaction(self._db, self._lock)

    # ------------------------------------------------------------ submissions and results
    def add_submissions(self, submissions: Iterable[Any]) -> None:
        """Keep every submission read (the same one read again is kept once)."""
        stamp = now()
        rows = [(s.key, s.learner, s.exercise, s.exercise_hash, s.prompt, s.model, s.created, s.status, s.score,
                 None if s.passed is None else int(s.passed), s.hints_used, json.dumps(s.outputs, ensure_ascii=False),
                 str(s.source), s.line, stamp, _texts(getattr(s, "texts", None))) for s in submissions]
        with self._tx():
            self._db.executemany(
                "INSERT OR IGNORE INTO submissions (key, learner, exercise, exercise_hash, prompt, model, created, status, score, passed,"
                " hints_used, outputs, source, line, read_at, texts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def prepare(self, items: Iterable[dict[str, Any]]) -> list[ResultRow]:
        """One result per (learner, exercise) for this run's tasks. A result whose task changed (a newer
        submission, another model or exercise version) starts again: its calls no longer apply."""
        with self._tx():
            for item in items:
                row = self._db.execute("SELECT id, task FROM results WHERE learner=? AND exercise=?", (item["learner"], item["exercise"])).fetchone()
                values = (item["task"], item["submission"], item["prompt"], item["exercise_hash"], item["track"],
                          json.dumps(list(item["skills"])), item["model"], item["judge_model"], _texts(item.get("texts")))
                if row is None:
                    self._db.execute(
                        "INSERT INTO results (learner, exercise, task, submission, prompt, exercise_hash, track, skills, model, judge_model,"
                        " texts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (item["learner"], item["exercise"], *values))
                elif row["task"] != item["task"]:
                    self._db.execute("DELETE FROM calls WHERE result_id=?", (row["id"],))
                    self._db.execute("DELETE FROM reviews WHERE result_id=?", (row["id"],))  # they reviewed the old grading
                    self._db.execute(
                        "UPDATE results SET task=?, submission=?, prompt=?, exercise_hash=?, track=?, skills=?, model=?, judge_model=?,"
                        " texts=?, status='pending', error=NULL, score=NULL, passed=NULL, result=NULL, prompt_tokens=0, completion_tokens=0,"
                        " cost_usd=0, duration_s=NULL, graded_at=NULL WHERE id=?", (*values, row["id"]))
        return self.results()

    def results(self, *, reviewed: bool = True) -> list[ResultRow]:
        """Every result, with the trainer's overrides applied (`reviewed=False`: as the judge left them)."""
        rows = [ResultRow.from_row(r) for r in self._db.execute("SELECT * FROM results ORDER BY learner, exercise")]
        if not reviewed:
            return rows
        from lab.classroom.overrides import apply_reviews

        by_result: dict[int, list[Review]] = {}
        for review in self.reviews():
            if review.decision != "skip":
                by_result.setdefault(review.result_id, []).append(review)
        return [apply_reviews(r, by_result[r.id]) if r.id in by_result else r for r in rows]

    def record_levels(self, levels: dict[str, int]) -> None:
        """The levels of the exercises being graded (a later grading's replace an earlier one's)."""
        with self._tx():
            self._db.executemany("INSERT OR REPLACE INTO exercises VALUES (?, ?)", [(k, int(v)) for k, v in levels.items()])

    def levels(self) -> dict[str, int]:
        return {r["id"]: int(r["level"]) for r in self._db.execute("SELECT id, level FROM exercises")}

    # ------------------------------------------------------------ reviews
    def record_review(self, result_id: int, criterion: str, case: str, sample: int, *, scale: str, judge_passed: bool | None,
                      judge_score: float | None, decision: str, trainer_passed: bool | None, trainer_score: float | None,
                      note: str | None, reviewer: str) -> Review:
        """Commit one decision at once; a later decision on the same judged output replaces it."""
        if decision not in DECISIONS:
            raise LabError(f"Unknown review decision {decision!r}: use one of {', '.join(DECISIONS)}.")
        stamp = now()
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result_id, criterion, case, sample, scale, None if judge_passed is None else int(judge_passed), judge_score, decision,
                 None if trainer_passed is None else int(trainer_passed), trainer_score, note, reviewer, stamp))
        return Review(result_id, criterion, case, sample, scale, judge_passed, judge_score, decision, trainer_passed, trainer_score,
                      note, reviewer, stamp)

    def reviews(self) -> list[Review]:
        return [Review.from_row(r) for r in self._db.execute("SELECT * FROM reviews ORDER BY result_id, criterion, case_name, sample")]

    def submissions(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._db.execute("SELECT * FROM submissions ORDER BY learner, exercise, created, source, line")]

    def calls(self, result_id: int) -> dict[str, RecordedCall]:
        rows = self._db.execute("SELECT call, text, prompt_tokens, completion_tokens, cost_usd, duration_s FROM calls WHERE result_id=?", (result_id,))
        return {r["call"]: RecordedCall(r["text"], r["prompt_tokens"], r["completion_tokens"], r["cost_usd"], r["duration_s"]) for r in rows}

    def record_call(self, result_id: int, call: str, kind: str, completion: Any) -> None:
        """Commit one model answer at once: it is never asked for again."""
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result_id, call, kind, completion.text, completion.prompt_tokens, completion.completion_tokens,
                 completion.cost_usd, completion.duration_s, now()))

    def finish(self, result_id: int, *, status: str, score: float | None = None, passed: bool | None = None,
               result: dict[str, Any] | None = None, error: str | None = None, duration_s: float | None = None) -> None:
        with self._tx():
            usage = self._db.execute("SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0)"
                                     " FROM calls WHERE result_id=?", (result_id,)).fetchone()
            self._db.execute(
                "UPDATE results SET status=?, score=?, passed=?, result=?, error=?, prompt_tokens=?, completion_tokens=?, cost_usd=?,"
                " duration_s=?, graded_at=? WHERE id=?",
                (status, score, None if passed is None else int(passed), json.dumps(result, ensure_ascii=False) if result is not None else None,
                 error, usage[0], usage[1], usage[2], duration_s, now(), result_id))

    def usage(self) -> dict[str, Any]:
        row = self._db.execute("SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0), COUNT(*)"
                               " FROM calls").fetchone()
        return {"prompt_tokens": int(row[0]), "completion_tokens": int(row[1]), "cost_usd": round(float(row[2]), 6), "calls": int(row[3])}

    # ------------------------------------------------------------ runs
    def begin_run(self, model: str) -> int:
        with self._tx():
            return int(self._db.execute("INSERT INTO runs (started_at, model) VALUES (?, ?)", (now(), model)).lastrowid or 0)

    def finish_run(self, run_id: int, *, calls: int, cost_usd: float, graded: int, left: int, wall_s: float) -> None:
        with self._tx():
            self._db.execute("UPDATE runs SET finished_at=?, calls=?, cost_usd=?, graded=?, left_over=?, wall_s=? WHERE id=?",
                             (now(), calls, cost_usd, graded, left, wall_s, run_id))

    def runs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._db.execute("SELECT * FROM runs ORDER BY id")]

    def count_calls(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])


def _texts(texts: Any) -> str | None:
    return json.dumps(texts, ensure_ascii=False) if texts else None


def iter_results(store: CohortStore) -> Iterator[ResultRow]:
    yield from store.results()
