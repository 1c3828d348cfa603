"""The built-in offline model in the lab: the picker offers it (and to fetch it), the catalog marks and filters the
exercises it can pass, and a grade of its answers says it is very small. No model is loaded here."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input, OptionList
from tui_helpers import make_app, ready, screen_text, wait_for

from lab.format import offline
from lab.models import local, weights
from lab.tui.screens.catalog import CatalogScreen, ExerciseList
from lab.tui.screens.model import ModelScreen


@pytest.fixture
def bullets_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An offline list that marks the tests' `basics/bullets` (the tests' exercise folder stands in for the bundled one)."""
    listed = tmp_path / "_offline.json"
    listed.write_text(json.dumps({"exercises": {"basics/bullets": {"hash": "x", "verdict": "pass", "judged": False, "offline": True}}}))
    monkeypatch.setattr(offline, "list_path", lambda: listed)


async def test_the_catalog_marks_the_offline_exercises_and_o_shows_only_them(bullets_offline):
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        listing = app.screen.query_one(ExerciseList)
        assert "1 ⌂" in listing.line_of("basics/bullets")
        assert "⌂" not in "".join(listing.line_of(i) for i in listing.ids if i != "basics/bullets")
        assert "⌂ beside the level: you can practise it offline, on the built-in model (o shows only those)." in screen_text(app)
        await pilot.press("o")
        assert listing.ids == ["basics/bullets"]
        assert "⌂ only (o)" in screen_text(app)
        await pilot.press("escape")
        assert len(listing.ids) > 1


async def test_with_no_model_the_first_start_says_how_to_use_the_builtin_one():
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        assert "with no API key and no server, pick 'Built-in, offline (very small)'" in " ".join(screen_text(app).split())


async def open_picker_on_builtin(pilot: Any) -> ModelScreen:
    await ready(pilot)
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelScreen) and pilot.app.screen.choices, "the model list")
    screen = pilot.app.screen
    options = screen.query_one(OptionList)
    options.highlighted = next(i for i, c in enumerate(screen.choices) if c.model == local.BUILTIN)
    options.focus()
    await pilot.press("enter")
    return screen


async def test_the_picker_offers_the_builtin_model_and_to_fetch_it(monkeypatch: pytest.MonkeyPatch):
    fetched = threading.Event()
    monkeypatch.setattr(local, "runtime_installed", lambda: True)
    monkeypatch.setattr(local, "_cpu_lacks_avx2", lambda: False)
    monkeypatch.setattr(local, "is_fetched", lambda *args: fetched.is_set())

    def fake_fetch(*args: Any, on_progress: Any = None, cancel: Any = None, **kwargs: Any) -> weights.Fetched:
        for done in (0, 40_000_000, 92_871_040):
            on_progress(weights.FetchProgress("download", done, 92_871_040))
        fetched.set()
        return weights.Fetched(weights.SMOLLM2.path(), already=False)

    monkeypatch.setattr(weights, "fetch", fake_fetch)
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        screen = await open_picker_on_builtin(pilot)
        text = screen_text(app).replace("\n", " ")
        assert "Built-in, offline (very small)  local/smollm2  not on this machine yet: pick it to fetch it" in text
        assert "The built-in model is not on this machine yet: run lab local fetch (it downloads 93 MB once). Press enter" in text
        assert screen.query_one("#model-fetch", Button).display and screen.focused is screen.query_one("#model-fetch", Button)
        await pilot.press("enter")
        await wait_for(pilot, lambda: fetched.is_set() and screen.fetching is None, "the fetch to finish")
        assert "The built-in model is ready" in screen_text(app).replace("\n", " ")
        assert "runs on this machine: no key, no server, no network" in screen_text(app)
        assert screen.query_one("#model-name", Input).value == local.BUILTIN
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), "the catalog")
        assert app.session.settings.model == local.BUILTIN and app.session.settings.api_base is None


async def test_without_its_runtime_the_picker_says_the_one_command_that_installs_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(local, "runtime_installed", lambda: False)
    app = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        screen = await open_picker_on_builtin(pilot)
        text = screen_text(app).replace("\n", " ")
        assert "local/smollm2  needs its runtime first: pip install" in text
        assert [c.source for c in screen.choices if c.label] == ["needs its runtime first: pip install 'xllamacpp==2026.10.11549'"]
        assert str(screen.query_one("#model-status").render()) == (
            "The built-in model needs its runtime, which is not installed: run pip install 'xllamacpp==2026.10.11549' "
            "(the lab's `local` extra), then lab local fetch.")
        assert not screen.query_one("#model-fetch", Button).display


def test_the_grade_of_a_builtin_answer_says_the_model_is_very_small():
    from lab.tui.widgets.grade import grade_renderable

    result = {"model": "local/smollm2", "criteria": [], "passed": False, "score": 0.4, "pass_mark": 0.8, "usage": {}}
    texts = [str(part) for part in grade_renderable(result).renderables]
    assert "Answered by the built-in model, a very small model: a strong prompt may still fail." in texts
    other = [str(part) for part in grade_renderable({**result, "model": "openai/echo"}).renderables]
    assert not any("built-in" in t for t in other)
