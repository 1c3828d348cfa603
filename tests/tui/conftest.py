"""Fixtures for the TUI tests: a fixed exercise folder instead of the bundled curriculum, UTC
times, an app without cursor blink or litellm preloading, and a seeded progress store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

TUI_EXERCISES = Path(__file__).resolve().parent / "exercises"


@pytest.fixture(autouse=True)
def tui_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the tests' own exercises, so a new bundled exercise never changes a screen under test."""
    import lab.settings.paths

    monkeypatch.setattr(lab.settings.paths, "bundled_exercises_dir", lambda: TUI_EXERCISES)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")


@pytest.fixture
def use_model(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str | None], None]:
    def use(model: str, api_base: str | None = None) -> None:
        monkeypatch.setenv("LAB_MODEL", model)
        if api_base:
            monkeypatch.setenv("LAB_API_BASE", api_base)

    return use


@pytest.fixture
def seeded(lab_home: Path) -> Path:
    from tui_helpers import seed_attempts

    seed_attempts(lab_home)
    return lab_home
