"""Answers to repeated requests, kept on disk: a request at temperature 0 whose model, endpoint, messages
and call settings are all the same as an earlier one is answered from here, with no call and no charge.

A learner who sends the same prompt again (to see the grade again, after restoring it from the
history, or after fixing an unrelated case) would otherwise pay again for the very answer they have.
Only temperature 0 is cached: above it, asking again is how a learner sees another answer.

What is kept: a SHA-256 of the request (never the request itself, so never a key: API keys travel in
headers and the environment, which are not part of the request hashed here, and parameters that look
like credentials are left out of the hash too) and the answer's text, finish reason and token counts.
The file is SQLite in the cache folder (`responses.db`), bounded in size: the answers used least
recently go first. It is a cache: a corrupt file is rebuilt, an unwritable folder means no cache.

This module imports neither litellm nor pydantic: a cache hit costs a few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lab.settings import paths, sqlite
from lab.settings.calls import CallConfig

FILE_NAME = "responses.db"
DEFAULT_MAX_MB = 100.0
SCHEMA_VERSION = 2  # 2: an answer keeps the model's tool calls
_BUSY_MS = int(sqlite.BUSY_TIMEOUT_S * 1000)
_NOTE_MS = 50  # noting a hit's use: never worth a wait
# request parameters that could carry a credential: never hashed, never stored. Matched by name, not by a
# word inside it: `max_tokens` holds no token, and an answer cut at 2 tokens must not answer a call allowed 500
_SECRET_NAMES = frozenset({"key", "token", "secret", "password", "authorization", "headers", "credentials"})
_SECRET_ENDINGS = ("_key", "_token", "_secret", "_password", "_headers", "_credentials", "_key_id")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key               TEXT PRIMARY KEY,
    model             TEXT NOT NULL,
    text              TEXT NOT NULL,
    finish_reason     TEXT,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    tool_calls        TEXT NOT NULL DEFAULT '[]',
    size              INTEGER NOT NULL,
    created_at        REAL NOT NULL,
    used_at           REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_use ON answers (used_at);
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO totals (id, bytes) VALUES (1, 0)
"""
ROW_OVERHEAD = 200  # bytes a row costs beyond its text, roughly: counted so a million empty answers still count


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    finish_reason: str | None
    prompt_tokens: int  # what the first call used (a hit uses nothing)
    completion_tokens: int
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # the model's calls instead of (or beside) text: (id, name, arguments)


def answer_of(completion: Any) -> CachedAnswer:
    """What the cache keeps of a `lab.models.llm.Completion`."""
    return CachedAnswer(completion.text, completion.finish_reason, completion.prompt_tokens, completion.completion_tokens,
                        tuple(tuple(call) for call in completion.tool_calls))


@dataclass(frozen=True)
class CacheStats:
    path: Path
    entries: int
    bytes: int
    max_bytes: int


def cacheable(config: CallConfig) -> bool:
    """Whether calls of `config` read or write the cache: asked for, and at temperature 0 (one answer per
    request: `n` above 1 is not cached)."""
    if config.cache not in ("use", "refresh"):
        return False
    params = config.params or {}
    temperature = params.get("temperature")
    if temperature is None or float(temperature) != 0.0:
        return False
    return int(params.get("n") or 1) == 1


def request_key(messages: list[dict[str, Any]], config: CallConfig, slot: int | str = 0,
                tools: list[dict[str, Any]] | None = None) -> str:
    """The hash naming a request: model, server, messages, call settings and the tools offered. `slot` tells
    apart the samples of one attempt (sample 2 of a re-run gets sample 2's answer, so a re-run repeats the
    grade it had, variance and all)."""
    params = {k: v for k, v in (config.params or {}).items() if not _secret(k)}
    material = {"model": config.model, "api_base": _endpoint(config.api_base), "messages": messages, "params": params,
                "slot": slot, "tools": tools or []}
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_ENDINGS) or "authorization" in lowered


def _endpoint(api_base: str | None) -> str | None:
    """The server an answer came from, without a user name, password or query (`?key=`) it may carry."""
    if not api_base:
        return None
    parts = urlsplit(api_base.strip())
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host.lower(), parts.path.rstrip("/"), "", ""))


class ResponseCache:
    """One `responses.db`. Safe to share between threads; several processes may share the file (WAL)."""

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.RLock()
        self._db = _connect(path)

    def get(self, key: str) -> CachedAnswer | None:
        import time

        with self._lock:
            try:
                row = self._db.execute("SELECT text, finish_reason, prompt_tokens, completion_tokens, tool_calls FROM answers"
                                       " WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return None  # a cache that cannot be read is a cache that missed
            if row is None:
                return None
            # when it was last used only orders eviction: a hit never waits on another process's write (nor fails
            # on a read-only file) to note it
            self._db.execute(f"PRAGMA busy_timeout = {_NOTE_MS}")
            try:
                self._db.execute("UPDATE answers SET used_at = ? WHERE key = ?", (time.time(), key))
            except sqlite3.Error:
                pass
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        try:
            calls = tuple(tuple(str(part) for part in call) for call in json.loads(row[4] or "[]"))
        except (ValueError, TypeError):
            return None
        return CachedAnswer(row[0], row[1], int(row[2]), int(row[3]), calls)  # type: ignore[arg-type]

    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        import time

        calls = json.dumps([list(call) for call in answer.tool_calls], ensure_ascii=False)
        size = len(answer.text.encode("utf-8")) + len(calls.encode("utf-8")) + ROW_OVERHEAD
        if size > self.max_bytes:
            return  # an answer larger than the whole cache is not kept
        at = time.time()
        try:
            with sqlite.Transaction(self._db, self._lock):
                old = self._db.execute("SELECT size FROM answers WHERE key = ?", (key,)).fetchone()
                self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (key, model, answer.text, answer.finish_reason, answer.prompt_tokens,
                                  answer.completion_tokens, calls, size, at, at))
                self._db.execute("UPDATE totals SET bytes = bytes + ? WHERE id = 1", (size - (old[0] if old else 0),))
                self._evict()
        except sqlite3.Error:
            return  # a full disk or a locked file: the answer is simply not kept

    def _evict(self) -> None:
        """Drop the answers used least recently until the file's answers fit the bound (inside `put`'s transaction)."""
        total = int(self._db.execute("SELECT bytes FROM totals WHERE id = 1").fetchone()[0])
        while total > self.max_bytes:
            oldest = self._db.execute("SELECT key, size FROM answers ORDER BY used_at LIMIT 64").fetchall()
            if not oldest:
                break
            for key, size in oldest:
                self._db.execute("DELETE FROM answers WHERE key = ?", (key,))
                total -= int(size)
                if total <= self.max_bytes:
                    break
        self._db.execute("UPDATE totals SET bytes = ? WHERE id = 1", (max(0, total),))

    def stats(self) -> CacheStats:
        with self._lock:
            entries, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM answers").fetchone()
        return CacheStats(self.path, int(entries), int(size), self.max_bytes)

    def clear(self) -> CacheStats:
        """Forget every answer; returns what there was."""
        before = self.stats()
        with self._lock:
            with sqlite.Transaction(self._db, self._lock):
                self._db.execute("DELETE FROM answers")
                self._db.execute("UPDATE totals SET bytes = 0 WHERE id = 1")
            self._db.execute("VACUUM")
        return before

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _connect(path: Path) -> sqlite3.Connection:
    """The file, with its tables; a corrupt file (or something else under that name) is replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        db = sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            sqlite.rebuild_cache(db, SCHEMA_VERSION, _SCHEMA, tables=["answers", "totals"])
            db.execute("SELECT COUNT(*) FROM totals").fetchone()  # proves the file is readable
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            if attempt or sqlite.busy(exc):  # held by another process past the busy timeout: never removed under it
                raise
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    raise AssertionError("unreachable")


_opened: dict[Path, ResponseCache | None] = {}
_opened_lock = threading.Lock()


def cache_file() -> Path:
    return paths.cache_dir() / FILE_NAME


def max_bytes_setting() -> int:
    """The size bound in bytes: `cache_max_mb` (config.toml or LAB_CACHE_MAX_MB), else the default."""
    try:
        from lab.settings.config import load_settings

        megabytes = load_settings().cache_max_mb
    except Exception:  # a broken setting is reported by the command that loaded the settings first
        megabytes = DEFAULT_MAX_MB
    return int(megabytes * 1024 * 1024)


def open_cache() -> ResponseCache | None:
    """This process's handle on the cache file of the current LAB_HOME (None when it cannot be opened:
    the lab then simply calls the model)."""
    path = cache_file()
    with _opened_lock:
        if path not in _opened:
            try:
                _opened[path] = ResponseCache(path, max_bytes_setting())
            except (OSError, sqlite3.Error):
                _opened[path] = None
        return _opened[path]


def for_config(config: CallConfig) -> ResponseCache | None:
    """The cache to consult for a call of `config`, or None when the call is not cached."""
    return open_cache() if cacheable(config) else None
