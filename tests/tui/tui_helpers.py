"""Helpers for the TUI tests: start the app, wait (bounded) for a state, read the screen, seed the store."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Callable


def make_app() -> Any:
    from lab.tui.app import LabApp

    return LabApp([], cursor_blink=False, preload_litellm=False)


async def wait_for(pilot: Any, predicate: Callable[[], Any], what: str, limit: float = 60.0) -> None:
    """Poll the app (bounded) until `predicate()` holds; fail saying what never happened."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if predicate():
            await pilot.pause()
            return
    raise AssertionError(f"timed out waiting for: {what}")


async def ready(pilot: Any) -> None:
    await wait_for(pilot, lambda: pilot.app.session is not None, "the catalog to load")


async def open_exercise(pilot: Any, exercise_id: str) -> Any:
    from lab.tui.screens.exercise import ExerciseScreen

    await ready(pilot)
    pilot.app.open_exercise(exercise_id)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExerciseScreen) and pilot.app.screen.is_mounted, "the exercise screen")
    return pilot.app.screen


async def compare_first_two_attempts(pilot: Any, exercise_id: str) -> Any:
    """Open the exercise, then its history, mark the first two attempts and compare them: the comparison screen."""
    from lab.tui.screens.compare import CompareScreen
    from lab.tui.screens.history import HistoryScreen

    await open_exercise(pilot, exercise_id)
    await pilot.press("escape", "r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), "the history")
    await pilot.press("space", "down", "space", "c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), "the comparison")
    return pilot.app.screen


async def send_and_wait(pilot: Any, screen: Any) -> None:
    before = screen.runs_started
    await pilot.press("ctrl+j")
    await wait_for(pilot, lambda: screen.runs_started > before and not screen.running, "the run to finish", 180)


def status_text(screen: Any) -> str:
    return screen.status_text


def editor_text(screen: Any) -> str:
    from textual.widgets import TextArea

    return screen.query_one("#editor", TextArea).text


def screen_text(app: Any) -> str:
    """What the terminal shows, as plain text (for asserting on messages wherever they are drawn)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip).rstrip() for strip in strips)


# ---------------------------------------------------------------------- seeded store

SEED_TIMES = ["2026-01-05T09:00:00+00:00", "2026-01-05T09:10:00+00:00", "2026-01-06T18:30:00+00:00"]


def seed_attempts(home: Path) -> None:
    """Three finished attempts with real grades (graded by the engine) and fixed times."""
    from lab.format.loader import load_catalog
    from lab.practice.attempts import Usage, outcome_dict
    from lab.practice.grading import grade
    from lab.practice.store import Store

    catalog = load_catalog([])
    bullets = catalog.get("basics/bullets")
    greeting = catalog.get("basics/greeting")
    runs = [
        (bullets, "Tell me about {{ topic }}.", {"git": ["Tell me about version control."], "tests": ["Tell me about unit tests."]}, 0),
        (bullets, "- {{ topic }} one\n- two\n- three", {"git": ["- version control one\n- two\n- three"], "tests": ["- unit tests one\n- two\n- three"]}, 1),
        (greeting, "Say hello", {"only": ["Say hello"]}, 0),
    ]
    with Store() as store:
        for exercise, prompt, outputs, hints in runs:
            attempt_id = store.begin_attempt(exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track,
                                             model="openai/echo", api_base=None, prompt=prompt, hints_used=hints)
            g = grade(exercise, outputs)
            usage = Usage(12, 9, 0.0)
            result = outcome_dict(exercise, "openai/echo", g, outputs, usage, attempt_id, 0.8)
            store.finish_attempt(attempt_id, status="graded", score=g.score, passed=g.passed, result=result,
                                 prompt_tokens=12, completion_tokens=9, duration_s=0.8)
        store.reveal_hint("basics/bullets", 2)
    with sqlite3.connect(home / "lab.db") as db:
        for attempt_id, when in enumerate(SEED_TIMES, start=1):
            db.execute("UPDATE attempts SET started_at=?, finished_at=? WHERE id=?", (when, when, attempt_id))


