"""Every screen at 100x32 and 80x24, with the seeded store (fixed times, real grades).

Update the baselines with `pytest tests/tui/test_snapshots.py --snapshot-update` after checking
the report (snapshot_report.html) shows the change you meant.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest
from tui_helpers import make_app, open_exercise, ready, wait_for

from lab.models.discovery import ModelChoice

SIZES = [pytest.param((100, 32), id="100x32"), pytest.param((80, 24), id="80x24")]


async def at_catalog(pilot: Any) -> None:
    await ready(pilot)


async def estimated(pilot: Any, screen: Any) -> None:
    await wait_for(pilot, lambda: screen.estimated_text is not None, "the cost estimate")  # made in a thread


async def at_exercise(pilot: Any) -> None:
    await estimated(pilot, await open_exercise(pilot, "basics/bullets"))


async def at_exercise_not_passed(pilot: Any) -> None:
    screen = await open_exercise(pilot, "systems/labels")
    await estimated(pilot, screen)
    await pilot.press("escape")  # leave the editor: the footer shows the letter keys
    assert not screen.passed


async def at_history(pilot: Any) -> None:
    from lab.tui.screens.history import HistoryScreen

    await open_exercise(pilot, "basics/bullets")
    await pilot.press("escape", "r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), "the history")


async def at_attempt(pilot: Any) -> None:
    from lab.tui.screens.history import AttemptScreen

    await at_history(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AttemptScreen), "the attempt")


async def at_diff(pilot: Any) -> None:
    from lab.tui.screens.history import DiffScreen

    await at_history(pilot)
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiffScreen), "the diff")


async def at_compare(pilot: Any) -> None:
    """The two seeded attempts at basics/bullets marked in the history and compared: the criterion that
    flipped on top, the prompts' diff, each case's two answers side by side."""
    from lab.tui.screens.compare import CompareScreen

    await at_history(pilot)
    await pilot.press("space", "down", "space", "c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), "the comparison")


async def at_progress(pilot: Any) -> None:
    from lab.tui.screens.progress import ProgressScreen

    await ready(pilot)
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgressScreen), "the progress")


async def at_model(pilot: Any) -> None:
    from lab.tui.screens.model import ModelScreen

    await ready(pilot)
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelScreen) and pilot.app.screen.choices, "the model list")


async def at_help(pilot: Any) -> None:
    from lab.tui.screens.help import HelpScreen

    await ready(pilot)
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")


SCREENS: dict[str, Callable[[Any], Awaitable[None]]] = {
    "catalog": at_catalog, "exercise": at_exercise, "exercise-not-passed": at_exercise_not_passed, "history": at_history,
    "attempt": at_attempt, "diff": at_diff, "progress": at_progress, "model": at_model, "help": at_help,
}


@pytest.fixture
def fixed_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    choices = [
        ModelChoice("ollama_chat/llama3.2:latest", "http://127.0.0.1:11434", "Ollama on 127.0.0.1:11434"),
        ModelChoice("openai/gpt-4o-mini", None, "OPENAI_API_KEY is set"),
    ]
    monkeypatch.setattr("lab.tui.screens.model.discover", lambda api_base=None: choices)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(name: str, size: tuple[int, int], snap_compare: Any, seeded: Any, fixed_discovery: None,
                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_MODEL", "openai/echo")
    assert snap_compare(make_app(), terminal_size=size, run_before=SCREENS[name])


@pytest.mark.parametrize("size", [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")])
def test_compare_view(size: tuple[int, int], snap_compare: Any, seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """History's compare view of two marked attempts, what flipped on top, on a large and a small terminal."""
    monkeypatch.setenv("LAB_MODEL", "openai/echo")
    assert snap_compare(make_app(), terminal_size=size, run_before=at_compare)


def test_progress_at_120x40(snap_compare: Any, seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress screen's mastery tables, the next exercise and the chart on a large terminal too."""
    monkeypatch.setenv("LAB_MODEL", "openai/echo")
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=at_progress)
