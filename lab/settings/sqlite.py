"""How the lab opens and changes its SQLite files (the learner's progress, a cohort's database): WAL,
a busy timeout shared by every writer, migrations in one write transaction, and UTC time stamps.

Several `lab` processes may share one file (a class on one machine, a trainer grading while reviewing),
so every writer waits for the others instead of failing.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's transaction (a migration, a classmate's attempt)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration, one by one: `executescript` would COMMIT the transaction they belong in."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        yield pending.strip()


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), under the store's lock when it has one; a transaction
    already open is joined, not nested."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock | None = None):
        self.db, self.lock, self.outer = db, lock or threading.RLock(), False

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.outer = not self.db.in_transaction
            if self.outer:
                self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()  # a BEGIN that never began (busy past the timeout) leaves the store usable
            raise

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        try:
            if self.outer and self.db.in_transaction:  # SQLite may have rolled back already, on some errors
                self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()


def migrate(db: sqlite3.Connection, migrations: Sequence[str], too_new: Callable[[int], Exception]) -> None:
    """Apply the migrations past the file's `user_version` in one write transaction (BEGIN IMMEDIATE waits,
    busy_timeout, for another process's); a failure leaves the previous version intact, and a file newer
    than `migrations` raises `too_new(version)`."""
    target_version = len(migrations)
    with Transaction(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > target_version:
            raise too_new(version)
        for target in range(version + 1, target_version + 1):
            for statement in _statements(migrations[target - 1]):
                db.execute(statement)
        if version != target_version:
            db.execute(f"PRAGMA user_version = {target_version}")


def rebuild_cache(db: sqlite3.Connection, version: int, schema: str, tables: Sequence[str]) -> None:
    """A cache's tables at `version`: a file at another version (older or newer) loses `tables` and gets
    `schema` afresh, in one write transaction; a cache is rebuilt, never migrated. Checked again inside
    the transaction: another process may have built it meanwhile."""
    if db.execute("PRAGMA user_version").fetchone()[0] == version:
        return
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        use_wal(db)  # not a bare PRAGMA: two first runs race for the switch, and the loser would read "locked" as corrupt
    with Transaction(db):
        if db.execute("PRAGMA user_version").fetchone()[0] != version:
            for table in tables:
                db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _statements(schema):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")


def busy(exc: BaseException) -> bool:
    """Whether an SQLite error is another connection holding the file (it will pass), not a damaged file."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def use_wal(db: sqlite3.Connection) -> None:
    """Switch a new database to WAL. The switch takes an exclusive lock that SQLite does not wait
    for (no busy handler), so a first run racing another one retries until the other is done."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02 + random.random() * 0.05)
