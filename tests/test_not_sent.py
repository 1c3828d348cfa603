"""Defect 10: an attempt that never reached a model (no key, a name litellm cannot route, no server at
the address) is kept in history as `not sent` and is not a try: no count, no `tried` status."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.practice.store import MIGRATIONS, SCHEMA_VERSION, Store

EXERCISE = minimal(id="basics/greet", title="Greet", track="basics", cases=[{"name": "a"}, {"name": "b"}])


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "basics/greet.j2", EXERCISE)
    return root


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dead_base() -> str:
    with socket.socket() as probe:  # a port that was free a moment ago and has nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def assert_not_a_try(capsys: pytest.CaptureFixture[str], course: Path) -> None:
    with Store() as store:
        [record] = store.attempts("basics/greet")
        assert record.status == "not_sent" and record.prompt == "Say hello." and record.error
        assert store.progress() == {}
    code, out, _ = lab(capsys, "list", "--json", "--track", "basics", "--exercises", str(course))
    assert [(r["status"], r["attempts"]) for r in json.loads(out)] == [("new", 0)]
    code, out, _ = lab(capsys, "progress", "--json", "--exercises", str(course))
    basics = next(t for t in json.loads(out)["tracks"] if t["track"] == "basics")
    assert basics["attempts"] == 0
    code, out, _ = lab(capsys, "history", "greet", "--exercises", str(course))
    assert code == 0 and out.splitlines()[2].split()[2:4] == ["not", "sent"]
    code, out, _ = lab(capsys, "attempt", "last")
    assert out.splitlines()[0].endswith(" · not sent")


def test_a_missing_key_is_not_a_try(capsys, course: Path):
    code, _, err = lab(capsys, "run", "greet", "--exercises", str(course), "--model", "openai/gpt-4o-mini", "--prompt", "Say hello.")
    assert code == 2 and err.startswith("lab: No API key for openai/gpt-4o-mini")
    assert_not_a_try(capsys, course)


def test_a_model_litellm_cannot_route_is_not_a_try(capsys, course: Path):
    code, _, err = lab(capsys, "run", "greet", "--exercises", str(course), "--model", "foo/bar", "--prompt", "Say hello.")
    assert code == 2 and "foo" in err
    assert_not_a_try(capsys, course)


@pytest.mark.live
def test_a_dead_api_base_is_not_a_try(capsys, course: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    base = dead_base()
    code, _, err = lab(capsys, "run", "greet", "--exercises", str(course), "--model", "openai/echo", "--api-base", base,
                       "--prompt", "Say hello.")
    assert (code, err) == (2, f"lab: Could not reach {base}: is the server running and the address right?\n")
    assert_not_a_try(capsys, course)


def test_a_call_that_reached_the_server_is_still_a_failed_try(capsys, course: Path, cassette, api_base, monkeypatch):
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    code, _, _ = lab(capsys, "run", "greet", "--exercises", str(course), "--model", "openai/fail-500", "--api-base", api_base,
                     "--prompt", "Say hello.")
    assert code == 2
    with Store() as store:
        assert [a.status for a in store.attempts("basics/greet")] == ["failed"]
        assert store.progress()["basics/greet"].status == "tried"


def test_schema_2_is_migrated_and_accepts_not_sent(tmp_path: Path):
    path = tmp_path / "lab.db"
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:2]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 2")
        db.execute("INSERT INTO attempts (exercise_id, exercise_hash, track, model, prompt, status, score, passed, started_at, owner_pid)"
                   " VALUES ('x', 'h', 't', 'm', 'kept', 'graded', 0.5, 0, '2026-01-01T00:00:00+00:00', 1)")
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 3
        assert [(a.prompt, a.status, a.owner_pid) for a in store.attempts()] == [("kept", "graded", 1)]
        attempt_id = store.begin_attempt(exercise_id="x", exercise_hash="h", track="t", model="m", api_base=None, prompt="p")
        store.finish_attempt(attempt_id, status="not_sent", error="No API key")
        assert store.progress()["x"].attempts == 1
