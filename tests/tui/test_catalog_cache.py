"""The first frame draws the catalog of the previous run; the real load then replaces it."""

from __future__ import annotations

import threading

from tui_helpers import make_app, ready, screen_text, wait_for

from lab.tui.screens.catalog import ExerciseList
from lab.tui.screens.exercise import ExerciseScreen
from lab.tui.summary import cache_file


async def test_cached_catalog_is_drawn_before_the_files_load_and_enter_waits_for_them(seeded, monkeypatch):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
    assert cache_file().exists()

    from lab.tui.session import LabSession

    release = threading.Event()
    real_open = LabSession.open

    def slow_open(dirs, catalog=None):
        assert release.wait(20), "the test never released the session"
        return real_open(dirs, catalog)

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


async def test_a_first_start_lists_the_exercises_from_their_front_matter_before_the_session(lab_home, monkeypatch):
    # no cached catalog and no database yet: the index's rows are the first list (every exercise new),
    # drawn before the settings, pydantic and the store have loaded
    from lab.settings import paths
    from lab.tui.session import LabSession

    assert not paths.database_file().exists() and not cache_file().exists()
    release = threading.Event()
    real_open = LabSession.open

    def slow_open(dirs, catalog=None):
        assert catalog is not None, "the session should reuse the index already read"
        assert release.wait(20), "the test never released the session"
        return real_open(dirs, catalog)

    monkeypatch.setattr(LabSession, "open", staticmethod(slow_open))
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        listing = app.screen.query_one(ExerciseList)
        await wait_for(pilot, lambda: listing.ids, "the list from the index")
        assert app.session is None
        assert listing.ids == ["basics/bullets", "basics/greeting", "systems/labels"]
        assert not any(listing.line_of(i).startswith("✓") for i in listing.ids)  # nothing tried yet
        assert "enter opens the highlighted exercise" in screen_text(app)
        release.set()
        await ready(pilot)
        assert app.session is not None and listing.ids == ["basics/bullets", "basics/greeting", "systems/labels"]
