"""The progress store: attempts, drafts and hints in SQLite (WAL), with a schema version and migrations.

An attempt is written before the model is called and completed after, so a crash or a dead
endpoint loses nothing: the learner's text is on disk before the first byte goes out.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lab.errors import LabError
from lab.settings import paths
from lab.settings.sqlite import BUSY_TIMEOUT_S, Transaction, migrate, now, use_wal

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE attempts (
        id                INTEGER PRIMARY KEY,
        exercise_id       TEXT NOT NULL,
        exercise_hash     TEXT NOT NULL,
        track             TEXT NOT NULL,
        model             TEXT NOT NULL,
        api_base          TEXT,
        prompt            TEXT NOT NULL,
        samples           INTEGER NOT NULL DEFAULT 1,
        hints_used        INTEGER NOT NULL DEFAULT 0,
        status            TEXT NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'graded', 'failed', 'cancelled')),
        error             TEXT,
        score             REAL,
        passed            INTEGER,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL,
        result            TEXT,
        started_at        TEXT NOT NULL,
        finished_at       TEXT
    );
    CREATE INDEX attempts_by_exercise ON attempts (exercise_id, id);
    CREATE TABLE drafts (
        exercise_id TEXT PRIMARY KEY,
        text        TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE hints (
        exercise_id TEXT PRIMARY KEY,
        revealed    INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: an attempt knows the process running it, so one whose process died (kill -9, a power cut) can be
    # marked `interrupted` on the next start; SQLite cannot widen a CHECK, hence the copy
    """
    CREATE TABLE attempts_v2 (
        id                INTEGER PRIMARY KEY,
        exercise_id       TEXT NOT NULL,
        exercise_hash     TEXT NOT NULL,
        track             TEXT NOT NULL,
        model             TEXT NOT NULL,
        api_base          TEXT,
        prompt            TEXT NOT NULL,
        samples           INTEGER NOT NULL DEFAULT 1,
        hints_used        INTEGER NOT NULL DEFAULT 0,
        status            TEXT NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'graded', 'failed', 'cancelled', 'interrupted')),
        error             TEXT,
        score             REAL,
        passed            INTEGER,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL,
        result            TEXT,
        started_at        TEXT NOT NULL,
        finished_at       TEXT,
        owner_pid         INTEGER,
        owner_host        TEXT
    );
    INSERT INTO attempts_v2 (id, exercise_id, exercise_hash, track, model, api_base, prompt, samples, hints_used, status, error,
                             score, passed, prompt_tokens, completion_tokens, cost_usd, duration_s, result, started_at, finished_at)
        SELECT id, exercise_id, exercise_hash, track, model, api_base, prompt, samples, hints_used, status, error,
               score, passed, prompt_tokens, completion_tokens, cost_usd, duration_s, result, started_at, finished_at FROM attempts;
    DROP TABLE attempts;
    ALTER TABLE attempts_v2 RENAME TO attempts;
    CREATE INDEX attempts_by_exercise ON attempts (exercise_id, id);
    """,
    # 3: an attempt whose request never reached a model (no key, an unroutable name, no server) is
    # `not_sent`: kept in history with its prompt, but not a try; the CHECK is widened by a copy again
    """
    CREATE TABLE attempts_v3 (
        id                INTEGER PRIMARY KEY,
        exercise_id       TEXT NOT NULL,
        exercise_hash     TEXT NOT NULL,
        track             TEXT NOT NULL,
        model             TEXT NOT NULL,
        api_base          TEXT,
        prompt            TEXT NOT NULL,
        samples           INTEGER NOT NULL DEFAULT 1,
        hints_used        INTEGER NOT NULL DEFAULT 0,
        status            TEXT NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'graded', 'failed', 'cancelled', 'interrupted', 'not_sent')),
        error             TEXT,
        score             REAL,
        passed            INTEGER,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        duration_s        REAL,
        result            TEXT,
        started_at        TEXT NOT NULL,
        finished_at       TEXT,
        owner_pid         INTEGER,
        owner_host        TEXT
    );
    INSERT INTO attempts_v3 SELECT id, exercise_id, exercise_hash, track, model, api_base, prompt, samples, hints_used, status,
        error, score, passed, prompt_tokens, completion_tokens, cost_usd, duration_s, result, started_at, finished_at,
        owner_pid, owner_host FROM attempts;
    DROP TABLE attempts;
    ALTER TABLE attempts_v3 RENAME TO attempts;
    CREATE INDEX attempts_by_exercise ON attempts (exercise_id, id);
    """,
    # 4: the learner's texts of an exercise that has them write several (`writes: [system, prompt]`, a prefill,
    # turns), as JSON by name; `prompt` keeps the main one. A draft keeps every editor field the same way.
    """
    ALTER TABLE attempts ADD COLUMN texts TEXT;
    ALTER TABLE drafts ADD COLUMN texts TEXT;
    """,
    # 5: `lab arena ID` plays the learner's own attack against their own defence: no attempt (never counted in
    # progress, mastery or an export), but what it cost counts in the day's spending, so it is kept here
    """
    CREATE TABLE rehearsals (
        id                INTEGER PRIMARY KEY,
        arena             TEXT NOT NULL,
        defence_attempt   INTEGER NOT NULL,
        attack_attempt    INTEGER NOT NULL,
        model             TEXT NOT NULL,
        held              INTEGER,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        started_at        TEXT NOT NULL
    );
    CREATE INDEX rehearsals_by_time ON rehearsals (started_at);
    """,
    # 6: `lab try` (one case, one call) is no attempt: never counted, in progress, mastery or an export; but
    # what it cost counts in the day's spending, so its cost is kept here, apart from the attempts
    """
    CREATE TABLE tries (
        id                INTEGER PRIMARY KEY,
        exercise_id       TEXT NOT NULL,
        case_name         TEXT NOT NULL,
        model             TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd          REAL NOT NULL DEFAULT 0,
        cached            INTEGER NOT NULL DEFAULT 0,
        started_at        TEXT NOT NULL
    );
    CREATE INDEX tries_by_time ON tries (started_at);
    """,
]
# statuses that were not a try: left out of counts, best scores and the `tried` status
NOT_TRIES = ("running", "interrupted", "not_sent")
SCHEMA_VERSION = len(MIGRATIONS)


INTERRUPTED = "The lab stopped (its process ended) while the model was answering; the prompt is kept, send it again."


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that number: alive
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    exercise_id: str
    exercise_hash: str
    track: str
    model: str
    api_base: str | None
    prompt: str
    samples: int
    hints_used: int
    status: str
    error: str | None
    score: float | None
    passed: bool | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float | None
    result: dict[str, Any] | None
    started_at: str
    finished_at: str | None
    owner_pid: int | None = None
    owner_host: str | None = None
    texts: dict[str, Any] | None = None  # every text the learner wrote, by name, when they write several

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "AttemptRecord":
        data = dict(row)
        data["passed"] = None if data["passed"] is None else bool(data["passed"])
        data["result"] = json.loads(data["result"]) if data["result"] else None
        data["texts"] = json.loads(data["texts"]) if data.get("texts") else None
        return cls(**data)

    @property
    def pass_mark(self) -> float:
        """The pass mark the attempt was graded against (1.0 where its result does not say)."""
        return float((self.result or {}).get("pass_mark", 1.0))

    @property
    def all_texts(self) -> dict[str, Any]:
        """The learner's texts by name: `texts`, or the one `prompt` under the name `prompt`."""
        return dict(self.texts) if self.texts else {"prompt": self.prompt}


@dataclass(frozen=True)
class ExerciseProgress:
    exercise_id: str
    attempts: int
    best_score: float | None
    passed: bool
    last_at: str | None

    @property
    def status(self) -> str:
        return "passed" if self.passed else ("tried" if self.attempts else "new")


class Store:
    """One SQLite database. Safe to share between threads (writes are serialised)."""

    def __init__(self, path: Path | None = None):
        self.path = path or paths.database_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabError(f"{self.path.parent}: cannot hold the progress database ({exc.strerror}); "
                           "set LAB_HOME to a folder you can write.") from exc
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")  # a busy database waits, not fails
            self._use_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self.interrupted_on_open = self._mark_interrupted()
        except sqlite3.DatabaseError as exc:
            raise LabError(f"{self.path}: the progress database cannot be opened ({exc}); move it aside or set LAB_HOME to another folder.") from exc

    def _use_wal(self) -> None:
        use_wal(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ schema
    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Bring the schema up to date in ONE write transaction, reading `user_version` inside it: ten
        first runs at once serialise on the write lock, and each after the first finds nothing to do."""
        with self._lock:
            migrate(self._db, MIGRATIONS, lambda version: LabError(
                f"{self.path} was written by a newer Prompt Lab (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Prompt Lab."))

    def _mark_interrupted(self) -> list[int]:
        """Mark `interrupted` the running attempts whose process is gone; returns their ids.

        Only processes on this host can be checked; an attempt from before schema 2 has no owner and
        cannot still be running in a process that knows schema 2, so it is marked too."""
        host = socket.gethostname()
        with self._transaction():
            rows = self._db.execute("SELECT id, owner_pid, owner_host FROM attempts WHERE status='running'").fetchall()
            dead = [r["id"] for r in rows
                    if r["owner_pid"] is None or r["owner_host"] == host and not _process_alive(int(r["owner_pid"]))]
            for attempt_id in dead:
                self._db.execute("UPDATE attempts SET status='interrupted', error=?, finished_at=? WHERE id=? AND status='running'",
                                 (INTERRUPTED, now(), attempt_id))
        return dead

    def _transaction(self) -> Transaction:
        return Transaction(self._db, self._lock)

    # ------------------------------------------------------------------ attempts
    def begin_attempt(self, *, exercise_id: str, exercise_hash: str, track: str, model: str, api_base: str | None,
                      prompt: str, samples: int = 1, hints_used: int = 0, texts: dict[str, Any] | None = None) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO attempts (exercise_id, exercise_hash, track, model, api_base, prompt, samples, hints_used, started_at,"
                " owner_pid, owner_host, texts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (exercise_id, exercise_hash, track, model, api_base, prompt, samples, hints_used, now(), os.getpid(), socket.gethostname(),
                 _json(texts)),
            )
            return int(cursor.lastrowid or 0)

    def finish_attempt(self, attempt_id: int, *, status: str, score: float | None = None, passed: bool | None = None,
                       result: dict[str, Any] | None = None, error: str | None = None, prompt_tokens: int = 0,
                       completion_tokens: int = 0, cost_usd: float = 0.0, duration_s: float | None = None) -> None:
        with self._transaction():
            # a cancel already recorded (the lab closing) keeps its reason: it says more than the worker's
            self._db.execute(
                "UPDATE attempts SET status=?, score=?, passed=?, result=?,"
                " error=CASE WHEN status='cancelled' AND ?='cancelled' THEN error ELSE ? END, prompt_tokens=?, completion_tokens=?,"
                " cost_usd=?, duration_s=?, finished_at=? WHERE id=?",
                (status, score, None if passed is None else int(passed), json.dumps(result, ensure_ascii=False) if result is not None else None,
                 status, error, prompt_tokens, completion_tokens, cost_usd, duration_s, now(), attempt_id),
            )

    def cancel_if_running(self, attempt_id: int, error: str) -> bool:
        """Mark an attempt cancelled unless it finished meanwhile; True when it was still running."""
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE attempts SET status='cancelled', error=?, finished_at=? WHERE id=? AND status='running'",
                (error, now(), attempt_id),
            )
            return cursor.rowcount == 1

    def attempt(self, attempt_id: int) -> AttemptRecord:
        row = self._db.execute("SELECT * FROM attempts WHERE id=?", (attempt_id,)).fetchone()
        if row is None:
            raise LabError(f"No attempt #{attempt_id}.")
        return AttemptRecord.from_row(row)

    def attempts(self, exercise_id: str | None = None, limit: int | None = None) -> list[AttemptRecord]:
        """Newest first."""
        sql = "SELECT * FROM attempts"
        args: list[Any] = []
        if exercise_id is not None:
            sql += " WHERE exercise_id=?"
            args.append(exercise_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [AttemptRecord.from_row(r) for r in self._db.execute(sql, args)]

    def progress(self) -> dict[str, ExerciseProgress]:
        rows = self._db.execute(
            "SELECT exercise_id, COUNT(*) AS n, MAX(score) AS best, MAX(COALESCE(passed, 0)) AS passed, MAX(started_at) AS last"
            f" FROM attempts WHERE status NOT IN ({', '.join(repr(s) for s in NOT_TRIES)}) GROUP BY exercise_id"
        )
        return {r["exercise_id"]: ExerciseProgress(r["exercise_id"], r["n"], r["best"], bool(r["passed"]), r["last"]) for r in rows}

    def cost_between(self, start: str, end: str) -> float:
        """Dollars recorded by attempts, tries and arena rehearsals started in [start, end) (UTC ISO times, as `now()`
        writes them)."""
        row = self._db.execute(
            "SELECT (SELECT COALESCE(SUM(cost_usd), 0) FROM attempts WHERE started_at >= ? AND started_at < ?)"
            " + (SELECT COALESCE(SUM(cost_usd), 0) FROM tries WHERE started_at >= ? AND started_at < ?)"
            " + (SELECT COALESCE(SUM(cost_usd), 0) FROM rehearsals WHERE started_at >= ? AND started_at < ?)",
            (start, end, start, end, start, end)).fetchone()
        return float(row[0])

    def costs_since(self, since: str) -> list[tuple[str, float]]:
        """(started_at, cost_usd) of the attempts, tries and arena rehearsals started at or after `since`, newest first."""
        rows = self._db.execute(
            "SELECT started_at, cost_usd FROM (SELECT started_at, cost_usd, id, 0 AS kind FROM attempts WHERE started_at >= ?"
            " UNION ALL SELECT started_at, cost_usd, id, 1 AS kind FROM rehearsals WHERE started_at >= ?"
            " UNION ALL SELECT started_at, cost_usd, id, 2 AS kind FROM tries WHERE started_at >= ?)"
            " ORDER BY started_at DESC, kind DESC, id DESC", (since, since, since))
        return [(str(r[0]), float(r[1])) for r in rows]

    def record_try(self, *, exercise_id: str, case: str, model: str, prompt_tokens: int = 0, completion_tokens: int = 0,
                   cost_usd: float = 0.0, cached: bool = False) -> None:
        """What a `lab try` cost (it is no attempt: only the day's spending reads this)."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO tries (exercise_id, case_name, model, prompt_tokens, completion_tokens, cost_usd, cached, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (exercise_id, case, model, prompt_tokens, completion_tokens, cost_usd, int(cached), now()))

    def tries(self) -> int:
        """How many tries are recorded."""
        return int(self._db.execute("SELECT COUNT(*) FROM tries").fetchone()[0])

    def record_rehearsal(self, *, arena: str, defence_attempt: int, attack_attempt: int, model: str, held: bool | None,
                         prompt_tokens: int = 0, completion_tokens: int = 0, cost_usd: float = 0.0) -> None:
        """What a `lab arena` rehearsal cost (it is no attempt: only the day's spending reads this)."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO rehearsals (arena, defence_attempt, attack_attempt, model, held, prompt_tokens, completion_tokens, cost_usd,"
                " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (arena, defence_attempt, attack_attempt, model, None if held is None else int(held), prompt_tokens, completion_tokens,
                 cost_usd, now()))

    def rehearsals(self) -> int:
        """How many arena rehearsals are recorded."""
        return int(self._db.execute("SELECT COUNT(*) FROM rehearsals").fetchone()[0])

    def last_exercise(self) -> str | None:
        row = self._db.execute("SELECT exercise_id FROM attempts ORDER BY id DESC LIMIT 1").fetchone()
        draft = self._db.execute("SELECT exercise_id, updated_at FROM drafts ORDER BY updated_at DESC LIMIT 1").fetchone()
        if row is None:
            return draft["exercise_id"] if draft else None
        if draft is None:
            return str(row["exercise_id"])
        attempt_at = self._db.execute("SELECT MAX(started_at) FROM attempts").fetchone()[0]
        return str(draft["exercise_id"] if draft["updated_at"] > attempt_at else row["exercise_id"])

    # ------------------------------------------------------------------ drafts and hints
    def save_draft(self, exercise_id: str, text: str, texts: dict[str, Any] | None = None) -> None:
        """Keep the editor's text (`texts`: every editor field by name, when the learner writes several)."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO drafts (exercise_id, text, updated_at, texts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(exercise_id) DO UPDATE SET text=excluded.text, updated_at=excluded.updated_at, texts=excluded.texts",
                (exercise_id, text, now(), _json(texts)),
            )

    def draft(self, exercise_id: str) -> str | None:
        row = self._db.execute("SELECT text FROM drafts WHERE exercise_id=?", (exercise_id,)).fetchone()
        return None if row is None else str(row["text"])

    def draft_texts(self, exercise_id: str) -> dict[str, Any] | None:
        """Every editor field of the draft by name (a draft of one text: that text under `prompt`), or None."""
        row = self._db.execute("SELECT text, texts FROM drafts WHERE exercise_id=?", (exercise_id,)).fetchone()
        if row is None:
            return None
        if row["texts"]:
            try:
                found = json.loads(row["texts"])
                if isinstance(found, dict):
                    return found
            except ValueError:
                pass
        return {"prompt": str(row["text"])}

    def hints_revealed(self, exercise_id: str) -> int:
        row = self._db.execute("SELECT revealed FROM hints WHERE exercise_id=?", (exercise_id,)).fetchone()
        return 0 if row is None else int(row["revealed"])

    def reveal_hint(self, exercise_id: str, available: int) -> int:
        """Reveal one more hint (up to `available`); returns how many are now revealed."""
        with self._transaction():
            current = self.hints_revealed(exercise_id)
            revealed = min(current + 1, available)
            self._db.execute(
                "INSERT INTO hints (exercise_id, revealed) VALUES (?, ?)"
                " ON CONFLICT(exercise_id) DO UPDATE SET revealed=excluded.revealed",
                (exercise_id, revealed),
            )
            return revealed


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def iter_outputs(result: dict[str, Any] | None) -> Iterator[tuple[str, list[str]]]:
    for case in (result or {}).get("cases", []):
        yield case["name"], list(case.get("outputs", []))
