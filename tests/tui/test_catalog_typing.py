"""Typing in the catalog filter over a course longer than a screenful: the first screenful of matches
at once, the rest once typing pauses, and the footer left alone while the text changes."""

from __future__ import annotations

from pathlib import Path

from fixtures.exercise_files import minimal, write_exercise
from lab.tui.screens import catalog as catalog_module
from lab.tui.screens.catalog import ExerciseList
from tui_helpers import ready, wait_for

COUNT = 120  # four screenfuls at 100x32


def a_long_course(root: Path) -> Path:
    for n in range(COUNT):
        write_exercise(root, f"long/step-{n:03}.j2", minimal(title=f"Step {n} of the long course", skills=["clarity"]))
    return root


async def test_a_typed_filter_lists_a_screenful_at_once_and_the_rest_once_typing_pauses(lab_home, tmp_path, monkeypatch):
    from lab.tui.app import LabApp

    monkeypatch.setattr(catalog_module, "REST_AFTER_TYPING_S", 0.5)
    app = LabApp([str(a_long_course(tmp_path / "course"))], cursor_blink=False, preload_litellm=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        listing = app.screen.query_one(ExerciseList)
        await wait_for(pilot, lambda: sum(i.startswith("long/") for i in listing.ids) == COUNT, "the whole course listed")
        await pilot.press("slash", *"long course")
        shown = listing.option_count
        assert 0 < shown < COUNT  # a screenful, not the whole list
        await wait_for(pilot, lambda: listing.option_count == COUNT, "the rest of the matches after the pause")
        assert listing.ids == [f"long/step-{n:03}" for n in range(COUNT)]


async def test_typing_in_the_filter_does_not_rebuild_the_footer(lab_home, tmp_path, monkeypatch):
    from lab.tui.app import LabApp

    app = LabApp([str(a_long_course(tmp_path / "course"))], cursor_blink=False, preload_litellm=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = app.screen
        await pilot.press("slash", "s")  # focusing the filter may change the footer: that is Textual's to do
        refreshed = []
        original = type(screen).refresh_bindings
        monkeypatch.setattr(type(screen), "refresh_bindings", lambda self: refreshed.append(1) or original(self))
        await pilot.press(*"tep 11")
        assert refreshed == []
        ids = screen.query_one(ExerciseList).ids
        assert ids and all("11" in i for i in ids)
        await pilot.press("escape")  # the filter cleared and the list focused: the footer follows
        await pilot.pause()
        assert refreshed
