"""The cohort store: `DIR/cohort.db` (SQLite, WAL) holds a class's submissions, the trainer's grading of
each (learner, exercise), and every model call made for it.

Each call is committed the moment its answer arrives, and a grading reuses the calls recorded for it,
so a run killed at any point (kill -9 included) resumes without calling the model again for them.
Uniqueness is in the schema: one result per (learner, exercise), one row per call of a result.

A class of any size goes through in constant memory: submissions are written as they are read, the
run's own set of them and its plan live in temporary tables of this connection (`run_submissions`,
`plan`), and everything is read back in batches or as a cursor (`iter_results`, `pending`).
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from lab.classroom.records import DECISIONS, RECORDED_CALL_COLUMNS, RESULT_COLUMNS, RecordedCall, ResultRow, Review, tool_calls_json
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
    # 6: who runs (a run claims each result before its calls are made, so two runs never pay for one
    # call twice) and what a run's input held that could not be graded (named in the report)
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    ALTER TABLE runs ADD COLUMN alive_at REAL;
    ALTER TABLE results ADD COLUMN claimed_by INTEGER;
    CREATE TABLE problems (
        run     INTEGER NOT NULL,
        path    TEXT NOT NULL,
        line    INTEGER,
        message TEXT NOT NULL
    );
    CREATE INDEX problems_by_run ON problems (run);
    """,
    # 7: the calls an answer made to tools, beside its words (JSON [[id, name, arguments], ...]), so a run that
    # goes on after a stop rebuilds an agent's conversation exactly
    """
    ALTER TABLE calls ADD COLUMN tool_calls TEXT;
    ALTER TABLE arena_calls ADD COLUMN tool_calls TEXT;
    """,
    # 8: each submission's fingerprint (lab/classroom/likeness.py), worked out while it is graded, so the report
    # finds near-identical prompts without working them all out after the last answer
    """
    ALTER TABLE submissions ADD COLUMN fingerprint TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
DATABASE = "cohort.db"
BATCH = 500  # rows written in one transaction, or read at once
ALIVE_S = 60.0  # a run that has not said it is alive for this long is taken as gone (killed, its machine off)
PLAN_COLUMNS = ("learner", "exercise", "submission", "prompt", "task", "exercise_hash", "track", "skills", "model", "judge_model", "texts")


@dataclass(frozen=True)
class RunInfo:
    """A `lab grade` run as `runs` records it: who, where and since when."""

    id: int
    pid: int | None
    host: str | None
    started_at: str
    alive_at: float | None

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started_at}"


def _texts(texts: Any) -> str | None:
    return json.dumps(texts, ensure_ascii=False) if texts else None


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would send Ctrl-C on Windows: the heartbeat alone decides there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it exists
        return True
    return True


def _chunks(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._use_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA temp_store=FILE")  # the run's temporary tables spill to disk: memory stays flat
            self._migrate()
            self._temporary()
        except sqlite3.DatabaseError as exc:
            raise LabError(f"{self.path}: the cohort database cannot be opened ({exc}); move it aside or choose another --out.") from exc

    def _use_wal(self) -> None:
        use_wal(self._db)

    def _migrate(self) -> None:
        """The whole schema in one write transaction, `user_version` read inside it (as lab/practice/store.py)."""
        with self._lock:
            migrate(self._db, MIGRATIONS, lambda version: LabError(
                f"{self.path} was written by a newer Prompt Lab (cohort schema {version}, this one knows {SCHEMA_VERSION}); upgrade Prompt Lab."))

    def _temporary(self) -> None:
        """This connection's own tables: the submissions this run read, in order, and its plan (one picked
        submission per learner and exercise). Nobody else sees them; they go with the connection."""
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS run_submissions (ord INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                         "source TEXT NOT NULL, line INTEGER NOT NULL)")
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS usable (exercise TEXT PRIMARY KEY)")
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS plan (ord INTEGER PRIMARY KEY, " + ", ".join(PLAN_COLUMNS)
                         + ", UNIQUE (learner, exercise))")

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

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """A query's rows as a stream, a batch at a time (never the whole answer in memory)."""
        cursor = self._db.execute(sql, params)
        while True:
            batch = cursor.fetchmany(BATCH)
            if not batch:
                return
            yield from batch

    # ------------------------------------------------------------ submissions read by this run
    def add_submissions(self, submissions: Iterable[Any]) -> None:
        """Keep every submission read (the same one read again is kept once), and note it as this run's."""
        stamp = now()
        for chunk in _chunks(submissions):
            rows = [(s.key, s.learner, s.exercise, s.exercise_hash, s.prompt, s.model, s.created, s.status, s.score,
                     None if s.passed is None else int(s.passed), s.hints_used, json.dumps(s.outputs, ensure_ascii=False),
                     _stored_path(s.source), s.line, stamp, _texts(getattr(s, "texts", None))) for s in chunk]
            with self._tx():
                self._db.executemany(
                    "INSERT OR IGNORE INTO submissions (key, learner, exercise, exercise_hash, prompt, model, created, status, score, passed,"
                    " hints_used, outputs, source, line, read_at, texts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.executemany("INSERT INTO run_submissions (key, source, line) VALUES (?, ?, ?)",
                                     [(row[0], row[12], row[13]) for row in rows])

    def add_problems(self, run: int, problems: Iterable[Any]) -> None:
        """What this run's input held that cannot be graded (an `InputProblem` each), named in the report."""
        for chunk in _chunks(problems):
            with self._tx():
                self._db.executemany("INSERT INTO problems VALUES (?, ?, ?, ?)", [(run, _stored_path(p.path), p.line, p.message) for p in chunk])

    def problems(self, run: int, limit: int | None = None) -> Iterator[tuple[str, int | None, str]]:
        """(path, line, message) of each problem of `run`, in the order found."""
        return self._rows("SELECT path, line, message FROM problems WHERE run=? ORDER BY rowid LIMIT ?", (run, -1 if limit is None else limit))

    def count_problems(self, run: int) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM problems WHERE run=?", (run,)).fetchone()[0])

    def last_run(self) -> int | None:
        """The latest run (the one whose skipped lines the report names)."""
        row = self._db.execute("SELECT MAX(id) FROM runs").fetchone()
        return None if row[0] is None else int(row[0])

    def run_exercises(self) -> list[str]:
        """The exercise ids this run's submissions name."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT s.exercise FROM run_submissions rs JOIN submissions s ON s.key = rs.key ORDER BY s.exercise")]

    def skip_exercise(self, run: int, exercise: str, message: str) -> Iterator[tuple[str, int | None, str]]:
        """Every submission of this run naming `exercise` becomes a problem with its file and line; they are
        returned as `problems` gives them."""
        with self._tx():
            last = self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM problems").fetchone()[0]
            self._db.execute(
                "INSERT INTO problems SELECT ?, rs.source, rs.line, ? FROM run_submissions rs JOIN submissions s ON s.key = rs.key "
                "WHERE s.exercise = ? ORDER BY rs.ord", (run, message, exercise))
        return self._rows("SELECT path, line, message FROM problems WHERE rowid > ? ORDER BY rowid", (last,))

    def candidates(self, exercises: Iterable[str]) -> Iterator[tuple[Any, ...]]:
        """This run's submissions of `exercises`, ordered by learner, exercise and the order read:
        (learner, exercise, key, prompt, created, status, score, order, texts)."""
        with self._tx():
            self._db.execute("DELETE FROM usable")
            self._db.executemany("INSERT OR IGNORE INTO usable VALUES (?)", [(x,) for x in exercises])
        return self._rows(
            "SELECT s.learner, s.exercise, s.key, s.prompt, s.created, s.status, s.score, rs.ord, s.texts FROM run_submissions rs "
            "JOIN submissions s ON s.key = rs.key WHERE s.exercise IN (SELECT exercise FROM usable) ORDER BY s.learner, s.exercise, rs.ord")

    # ------------------------------------------------------------ the run's plan and its results
    def prepare(self, items: Iterable[dict[str, Any]]) -> None:
        """One result per (learner, exercise) for this run's tasks, and the run's plan. A result whose task
        changed (a newer submission, another model or exercise version) starts again: its calls, reviews
        and claim no longer apply."""
        with self._tx():
            self._db.execute("DELETE FROM plan")
        placeholders = ", ".join("?" * len(PLAN_COLUMNS))
        for chunk in _chunks(items):
            rows = [tuple(json.dumps(list(item[c])) if c == "skills" else _texts(item.get(c)) if c == "texts" else item[c] for c in PLAN_COLUMNS)
                    for item in chunk]
            with self._tx():
                self._db.executemany(f"INSERT OR REPLACE INTO plan ({', '.join(PLAN_COLUMNS)}) VALUES ({placeholders})", rows)
        changed = ("SELECT r.id FROM results r JOIN plan p ON p.learner = r.learner AND p.exercise = r.exercise WHERE r.task != p.task")
        fields = ("task", "submission", "prompt", "exercise_hash", "track", "skills", "model", "judge_model", "texts")
        with self._tx():
            self._db.execute(f"DELETE FROM calls WHERE result_id IN ({changed})")
            self._db.execute(f"DELETE FROM reviews WHERE result_id IN ({changed})")  # they reviewed the old grading
            self._db.execute(
                f"UPDATE results SET ({', '.join(fields)}) = (SELECT {', '.join('p.' + f for f in fields)} FROM plan p "
                "WHERE p.learner = results.learner AND p.exercise = results.exercise), status='pending', error=NULL, score=NULL, "
                "passed=NULL, result=NULL, prompt_tokens=0, completion_tokens=0, cost_usd=0, duration_s=NULL, graded_at=NULL, "
                f"claimed_by=NULL WHERE id IN ({changed})")
            self._db.execute(
                f"INSERT OR IGNORE INTO results (learner, exercise, {', '.join(fields)}) "
                f"SELECT learner, exercise, {', '.join(fields)} FROM plan ORDER BY ord")

    def plan_counts(self) -> tuple[int, int]:
        """(results in this run's plan, those already graded)."""
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(r.status = 'graded'), 0) FROM plan p "
                               "JOIN results r ON r.learner = p.learner AND r.exercise = p.exercise").fetchone()
        return int(row[0]), int(row[1])

    def pending(self, after: int, limit: int = BATCH) -> list[tuple[int, ResultRow]]:
        """The next results of the plan still to grade, after position `after`: (position, row) in plan order."""
        rows = self._db.execute(
            f"SELECT p.ord, {RESULT_COLUMNS} FROM plan p JOIN results r ON r.learner = p.learner AND r.exercise = p.exercise "
            "WHERE p.ord > ? AND r.status != 'graded' ORDER BY p.ord LIMIT ?", (after, limit)).fetchall()
        return [(row[0], ResultRow.from_row(row[1:], with_result=False)) for row in rows]

    _FROM = "FROM results r LEFT JOIN submissions s ON s.key = r.submission"
    _CURRENT = " JOIN plan p ON p.learner = r.learner AND p.exercise = r.exercise"

    def iter_results(self, *, reviewed: bool = True, current: bool = False, where: str = "",
                     params: Sequence[Any] = (), limit: int | None = None) -> Iterator[ResultRow]:
        """Results by learner then exercise, as a stream, with the trainer's overrides applied (`reviewed=False`:
        as the judge left them); `current`: only this run's plan. `where` adds an SQL condition on `r`."""
        sql = (f"SELECT {RESULT_COLUMNS}, s.exercise_hash, s.hints_used, s.fingerprint {self._FROM}{self._CURRENT if current else ''}"
               f"{' WHERE ' + where if where else ''} ORDER BY r.learner, r.exercise LIMIT {-1 if limit is None else int(limit)}")
        reviewed_ids: set[int] = set()
        if reviewed:
            reviewed_ids = {r[0] for r in self._db.execute("SELECT DISTINCT result_id FROM reviews WHERE decision != 'skip'")}
        for values in self._rows(sql, params):
            row = ResultRow.from_row(values)
            if row.id in reviewed_ids:
                from lab.classroom.overrides import apply_reviews

                row = apply_reviews(row, self.reviews_of(row.id))
            yield row

    def results(self, *, reviewed: bool = True) -> list[ResultRow]:
        """Every result, with the trainer's overrides applied (`reviewed=False`: as the judge left them)."""
        return list(self.iter_results(reviewed=reviewed))

    def count_results(self, *, current: bool = False, where: str = "") -> int:
        sql = f"SELECT COUNT(*) {self._FROM}{self._CURRENT if current else ''}{' WHERE ' + where if where else ''}"
        return int(self._db.execute(sql).fetchone()[0])

    def tally(self) -> tuple[int, int, int, int]:
        """(learners, results, graded, passed) over the whole cohort, the trainer's overrides counted (only
        the reviewed results are read one by one)."""
        reviewed = "r.id IN (SELECT result_id FROM reviews WHERE decision != 'skip')"
        learners = int(self._db.execute("SELECT COUNT(DISTINCT learner) FROM results").fetchone()[0])
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(r.status = 'graded'), 0), COALESCE(SUM(r.status = 'graded' AND r.passed), 0) "
                               f"FROM results r WHERE NOT {reviewed}").fetchone()
        total, graded, passed = int(row[0]), int(row[1]), int(row[2])
        for r in self.iter_results(where=reviewed):
            total += 1
            graded += r.status == "graded"
            passed += r.status == "graded" and bool(r.passed)
        return learners, total, graded, passed

    def models(self) -> list[str]:
        """The models the results were graded with."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT model FROM results ORDER BY model")]

    def names(self, column: str, *, current: bool = False) -> Iterator[str]:
        """The distinct learners (`column="learner"`), exercises or tracks of the results, sorted, as a stream."""
        assert column in ("learner", "exercise", "track")
        table = "plan" if current else "results"
        return (r[0] for r in self._rows(f"SELECT DISTINCT {column} FROM {table} ORDER BY {column}"))

    def record_levels(self, levels: dict[str, int]) -> None:
        """The levels of the exercises being graded (a later grading's replace an earlier one's)."""
        with self._tx():
            self._db.executemany("INSERT OR REPLACE INTO exercises VALUES (?, ?)", [(k, int(v)) for k, v in levels.items()])

    def levels(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._db.execute("SELECT id, level FROM exercises")}

    def exercise_infos(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(id, track, skills) of every exercise with a result, as it was graded."""
        return [(r[0], r[1], tuple(json.loads(r[2] or "[]")))
                for r in self._db.execute("SELECT exercise, track, skills FROM results GROUP BY exercise ORDER BY exercise")]

    # ------------------------------------------------------------ claims: one run's calls at a time
    def claim(self, run: int, ids: Sequence[int]) -> tuple[set[int], list[RunInfo]]:
        """Claim results for `run` before any of their calls is made: those free, this run's own, or held by a
        run that is gone. Returns the ids now this run's, and the live runs that hold any of the others."""
        live = self.live_runs(besides=run)
        held_by = [r.id for r in live]
        marks = ", ".join("?" * len(ids))
        others = ", ".join("?" * len(held_by))
        with self._tx():
            self._db.execute(
                f"UPDATE results SET claimed_by=? WHERE id IN ({marks}) AND (claimed_by IS NULL OR claimed_by=?"
                + (f" OR claimed_by NOT IN ({others})" if held_by else " OR 1") + ")", (run, *ids, run, *held_by))
            rows = self._db.execute(f"SELECT id, claimed_by FROM results WHERE id IN ({marks})", tuple(ids)).fetchall()
        mine = {r[0] for r in rows if r[1] == run}
        holders = {r[1] for r in rows if r[1] != run}
        return mine, [r for r in live if r.id in holders]

    def live_runs(self, besides: int | None = None) -> list[RunInfo]:
        """Runs that have not finished and still say they are alive (on this machine: their process exists)."""
        here = socket.gethostname()
        found = []
        for row in self._db.execute("SELECT id, pid, host, started_at, alive_at FROM runs WHERE finished_at IS NULL AND id IS NOT ?", (besides,)):
            info = RunInfo(row[0], row[1], row[2], row[3], row[4])
            if info.alive_at is None or time.time() - info.alive_at > ALIVE_S:
                continue
            if info.host == here and info.pid is not None and not _pid_alive(info.pid):
                continue
            found.append(info)
        return found

    # ------------------------------------------------------------ reviews
    def record_review(self, result_id: int, criterion: str, case: str, sample: int, *, scale: str, judge_passed: bool | None,
                      judge_score: float | None, decision: str, trainer_passed: bool | None, trainer_score: float | None,
                      note: str | None, reviewer: str, table: str = "reviews", graded_at: str | None = None) -> Review:
        """Commit one decision at once; a later decision on the same judged output replaces it. `table` is
        `reviews` (a learner's grading) or `arena_reviews` (an arena pair, `result_id` its id). With `graded_at`
        (when the grading the trainer saw was made), a grading redone since then refuses the decision: a
        `lab grade` beside an open `lab review` may reset and re-grade what is on the trainer's screen."""
        if decision not in DECISIONS:
            raise LabError(f"Unknown review decision {decision!r}: use one of {', '.join(DECISIONS)}.")
        if table not in ("reviews", "arena_reviews"):
            raise ValueError(f"no review table {table!r}")
        stamp = now()
        with self._tx():
            if graded_at is not None:
                sql = ("SELECT graded_at FROM results WHERE id=?" if table == "reviews" else "SELECT played_at FROM arena_pairs WHERE id=?")
                found = self._db.execute(sql, (result_id,)).fetchone()
                if found is None or found[0] != graded_at:
                    raise LabError("This grading was redone by `lab grade` after the review opened, so the decision is not saved: "
                                   "quit (q) and run `lab review` again to review the new grading.")
            self._db.execute(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result_id, criterion, case, sample, scale, None if judge_passed is None else int(judge_passed), judge_score, decision,
                 None if trainer_passed is None else int(trainer_passed), trainer_score, note, reviewer, stamp))
        return Review(result_id, criterion, case, sample, scale, judge_passed, judge_score, decision, trainer_passed, trainer_score,
                      note, reviewer, stamp)

    def _review_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Review]:
        cursor = self._db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [Review.from_row(dict(zip(names, row))) for row in cursor]  # type: ignore[arg-type]

    def reviews(self) -> list[Review]:
        return self._review_rows("SELECT * FROM reviews ORDER BY result_id, criterion, case_name, sample")

    def reviews_of(self, result_id: int) -> list[Review]:
        return self._review_rows("SELECT * FROM reviews WHERE result_id=? AND decision != 'skip' ORDER BY criterion, case_name, sample",
                                 (result_id,))

    def submissions(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM submissions ORDER BY learner, exercise, created, source, line")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    # ------------------------------------------------------------ calls
    def calls(self, result_id: int) -> dict[str, RecordedCall]:
        return self.calls_of([result_id]).get(result_id, {})

    def calls_of(self, result_ids: Sequence[int]) -> dict[int, dict[str, RecordedCall]]:
        """The recorded calls of several results at once, by result."""
        found: dict[int, dict[str, RecordedCall]] = {}
        for chunk in _chunks(result_ids):
            rows = self._db.execute(f"SELECT result_id, call, {RECORDED_CALL_COLUMNS} FROM calls "
                                    f"WHERE result_id IN ({', '.join('?' * len(chunk))})", tuple(chunk))
            for r in rows:
                found.setdefault(r[0], {})[r[1]] = RecordedCall.from_row(r[2:])
        return found

    _CALL = ("INSERT OR IGNORE INTO calls (result_id, call, kind, text, prompt_tokens, completion_tokens, cost_usd, duration_s, created,"
             " tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

    @classmethod
    def call_statement(cls, result_id: int, call: str, kind: str, completion: Any) -> tuple[str, tuple[Any, ...]]:
        return cls._CALL, (result_id, call, kind, completion.text, completion.prompt_tokens, completion.completion_tokens,
                           completion.cost_usd, completion.duration_s, now(), tool_calls_json(completion.tool_calls))

    def record_call(self, result_id: int, call: str, kind: str, completion: Any) -> None:
        """Commit one model answer at once: it is never asked for again."""
        with self._tx():
            self._db.execute(*self.call_statement(result_id, call, kind, completion))

    @classmethod
    def finish_statements(cls, result_id: int, *, status: str, score: float | None = None, passed: bool | None = None,
                          result: dict[str, Any] | None = None, error: str | None = None, duration_s: float | None = None,
                          usage: tuple[int, int, float], calls: Sequence[tuple[str, str, Any]] = ()) -> list[tuple[str, tuple[Any, ...]]]:
        """The writes that finish a grading (see `finish`), for a `Writer`."""
        statements = [cls.call_statement(result_id, call, kind, completion) for call, kind, completion in calls]
        statements.append((
            "UPDATE results SET status=?, score=?, passed=?, result=?, error=?, prompt_tokens=?, completion_tokens=?, cost_usd=?,"
            " duration_s=?, graded_at=? WHERE id=?",
            (status, score, None if passed is None else int(passed), json.dumps(result, ensure_ascii=False) if result is not None else None,
             error, usage[0], usage[1], usage[2], duration_s, now(), result_id)))
        return statements

    @staticmethod
    def fingerprint_statement(submission: str, fingerprint: str) -> tuple[str, tuple[Any, ...]]:
        """The write keeping a submission's fingerprint (lab/classroom/likeness.py) for the report, once."""
        return "UPDATE submissions SET fingerprint=? WHERE key=? AND fingerprint IS NULL", (fingerprint, submission)

    def finish(self, result_id: int, *, status: str, score: float | None = None, passed: bool | None = None,
               result: dict[str, Any] | None = None, error: str | None = None, duration_s: float | None = None,
               usage: tuple[int, int, float] | None = None, calls: Sequence[tuple[str, str, Any]] = ()) -> None:
        """The grading of one result, with the answers it holds not committed yet (`calls`: call, kind,
        completion); `usage` (prompt tokens, completion tokens, cost) is its calls' total, summed from
        cohort.db when not given."""
        with self._tx():
            if usage is None:
                for statement in (self.call_statement(result_id, call, kind, completion) for call, kind, completion in calls):
                    self._db.execute(*statement)
                calls = ()
                usage = self._db.execute("SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0)"
                                         " FROM calls WHERE result_id=?", (result_id,)).fetchone()
            for statement in self.finish_statements(result_id, status=status, score=score, passed=passed, result=result, error=error,
                                                    duration_s=duration_s, usage=usage, calls=calls):  # type: ignore[arg-type]
                self._db.execute(*statement)

    def writer(self) -> "Writer":
        return Writer(self.path)

    def usage(self) -> dict[str, Any]:
        row = self._db.execute("SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0), COUNT(*)"
                               " FROM calls").fetchone()
        return {"prompt_tokens": int(row[0]), "completion_tokens": int(row[1]), "cost_usd": round(float(row[2]), 6), "calls": int(row[3])}

    # ------------------------------------------------------------ runs
    def begin_run(self, model: str) -> int:
        with self._tx():
            return int(self._db.execute("INSERT INTO runs (started_at, model, pid, host, alive_at) VALUES (?, ?, ?, ?, ?)",
                                        (now(), model, os.getpid(), socket.gethostname(), time.time())).lastrowid or 0)

    def heartbeat(self, run_id: int) -> None:
        """The run is alive: its claims hold (`live_runs`)."""
        with self._tx():
            self._db.execute("UPDATE runs SET alive_at=? WHERE id=?", (time.time(), run_id))

    def finish_run(self, run_id: int, *, calls: int, cost_usd: float, graded: int, left: int, wall_s: float) -> None:
        with self._tx():
            self._db.execute("UPDATE runs SET finished_at=?, calls=?, cost_usd=?, graded=?, left_over=?, wall_s=? WHERE id=?",
                             (now(), calls, cost_usd, graded, left, wall_s, run_id))

    def runs(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM runs ORDER BY id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]


def _stored_path(path: Any) -> str:
    """A file's path as cohort.db (UTF-8) can keep it: the bytes of a name that is not UTF-8 as escapes."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


class Writer:
    """The writes of a grading run, on a connection and a thread of their own: the SQLite work (and the WAL
    checkpoints it sets off) runs beside the event loop, not in it, and writes queued while one commits go
    into the next transaction together. `submit` returns a future set once the write is committed."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._queue: queue.SimpleQueue[tuple[list[tuple[str, tuple[Any, ...]]], Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="lab-cohort-writer", daemon=True)
        self._thread.start()

    def submit(self, statements: list[tuple[str, tuple[Any, ...]]]) -> "Future[None]":
        done: Future[None] = Future()
        # running from the start, so it cannot be cancelled: a grading cancelled (ctrl-c) while it waits does not take
        # its write back, and the writer, setting the result of a cancelled future, would die with every write queued
        done.set_running_or_notify_cancel()
        self._queue.put((statements, done))
        return done

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # seen again once this batch is in
                    break
                batch.append(more)
            try:
                self._commit([s for statements, _ in batch for s in statements])
                results: list[BaseException | None] = [None] * len(batch)
            except sqlite3.Error:
                results = []  # one of them failed: each on its own, so each future says whether it is in
                for statements, _ in batch:
                    try:
                        self._commit(statements)
                        results.append(None)
                    except sqlite3.Error as exc:
                        results.append(exc)
            for (_, done), error in zip(batch, results):
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    def _commit(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Wait for every write submitted, then close."""
        self._queue.put(None)
        self._thread.join()
        self._db.close()
