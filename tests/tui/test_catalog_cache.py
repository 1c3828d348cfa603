"""The first frame draws the catalog of the previous run; the real load then replaces it."""

from __future__ import annotations

import threading

from lab.tui.screens.catalog import ExerciseList
from lab.tui.screens.exercise import ExerciseScreen
from lab.tui.summary import cache_file
from tui_helpers import make_app, ready, screen_text, wait_for


async def test_cached_catalog_is_drawn_before_the_files_load_and_enter_waits_for_them(seeded, monkeypatch):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
    assert cache_file().exists()

    from lab.tui.session import LabSession

    release = threading.Event()
    real_open = LabSession.open

    def slow_open(dirs):
        assert release.wait(20), "the test never released the session"
        return real_open(dirs)

    monkeypatch.setattr(LabSession, "open", staticmethod(slow_open))
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause(0.2)
        assert app.session is None  # still loading...
        listing = app.screen.query_one(ExerciseList)
        assert listing.ids == ["basics/bullets", "basics/greeting", "systems/labels"]  # ...yet the catalog is there
        assert listing.line_of("basics/bullets").startswith("✓")
        assert "Continue where you left off: Make it say hello" in screen_text(app)
        await pilot.press("enter")
        assert "Opening as soon as the exercises are loaded" in screen_text(app)
        release.set()
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen), "the exercise, once loaded")
        assert app.screen.exercise.id == "basics/bullets"


async def test_an_unreadable_cache_is_ignored(seeded):
    cache_file().write_text("{not json")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert app.screen.query_one(ExerciseList).ids == ["basics/bullets", "basics/greeting", "systems/labels"]
    assert cache_file().read_text().startswith("{\"version\"")  # rewritten from the real catalog
