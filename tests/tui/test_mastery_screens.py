"""Mastery in the learner's TUI: the progress screen shows lab.practice.mastery's figures (the ones `lab progress`
prints), and the catalog's `n` highlights the suggested next exercise with its reason."""

from __future__ import annotations

import json
from typing import Any

from textual.widgets import DataTable, Input, Static
from tui_helpers import make_app, ready, wait_for

from lab.cli import main
from lab.practice.store import Store
from lab.tui.screens.catalog import CatalogScreen, ExerciseList
from lab.tui.screens.exercise import ExerciseScreen
from lab.tui.screens.help import HelpScreen
from lab.tui.screens.progress import ProgressScreen


def progress_json(capsys: Any) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["progress", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["mastery"]


def table_rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def notifications(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


def pass_everything_left() -> None:
    """A graded, passing attempt at the one exercise the seeded store has not passed."""
    with Store() as store:
        attempt = store.begin_attempt(exercise_id="systems/labels", exercise_hash="h", track="systems", model="openai/echo",
                                      api_base=None, prompt="p", hints_used=0)
        store.finish_attempt(attempt, status="graded", score=1.0, passed=True, result={}, prompt_tokens=1, completion_tokens=1,
                             duration_s=0.1)


async def test_the_progress_screen_shows_the_figures_and_bands_lab_progress_prints(seeded, capsys):
    expected = progress_json(capsys)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen), "the progress screen")
        tracks = table_rows(app.screen.query_one("#progress-tracks", DataTable))
        skills = table_rows(app.screen.query_one("#progress-skills", DataTable))
        next_line = str(app.screen.query_one("#progress-next", Static).render())
    assert [(r[0], r[1], r[3], r[4]) for r in tracks] == [
        (t["track"], f"{t['passed']}/{t['exercises']}", f"{t['mastery']:.2f}", t["band"]) for t in expected["tracks"]]
    assert [(r[0], r[3], r[4]) for r in skills] == [(s["skill"], f"{s['mastery']:.2f}", s["band"]) for s in expected["skills"]]
    # the seeded learner passed both basics (one with a hint) and nothing of systems: by hand, (1 × 0.95 + 2 × 1.0) / 3
    assert tracks[0][:2] == ["basics", "2/2"] and tracks[0][3:] == ["0.98", "mastered"]
    assert tracks[1][3:] == ["0.00", "not started"]
    assert expected["next"]["exercise"] == "systems/labels"
    assert f"Next: systems/labels. {expected['next']['reason']}" in " ".join(next_line.split())


async def test_the_progress_screen_says_when_everything_is_passed(seeded):
    pass_everything_left()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen), "the progress screen")
        assert str(app.screen.query_one("#progress-next", Static).render()) == "Every exercise is passed."
        assert all(r[4] == "mastered" for r in table_rows(app.screen.query_one("#progress-tracks", DataTable)))


async def test_n_on_the_catalog_highlights_the_suggestion_through_the_filters_and_says_why(seeded, capsys):
    expected = progress_json(capsys)["next"]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen) and app.screen.session is not None, "the catalog")
        screen = app.screen
        await pilot.press("t")  # only the basics track: the suggestion (systems/labels) is filtered out
        assert screen.track == "basics" and "systems/labels" not in screen.query_one(ExerciseList).ids
        await pilot.press("n")
        listing = screen.query_one(ExerciseList)
        assert listing.highlighted_option is not None and listing.highlighted_option.id == expected["exercise"] == "systems/labels"
        assert screen.track is None and screen.query_one("#filter-text", Input).value == "" and app.focused is listing
        assert notifications(app) == [f"A system prompt that labels tickets (systems/labels). {expected['reason']} Press enter to open it."]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen) and app.screen.exercise.id == "systems/labels",
                       "the suggested exercise to open")


async def test_n_on_the_catalog_says_so_when_everything_is_passed(seeded):
    pass_everything_left()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen) and app.screen.session is not None, "the catalog")
        before = app.screen.query_one(ExerciseList).highlighted
        await pilot.press("n")
        assert notifications(app) == ["Every exercise is passed: there is nothing left to suggest."]
        assert app.screen.query_one(ExerciseList).highlighted == before


async def test_n_is_in_the_catalog_footer_and_the_help(seeded):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen) and app.screen.session is not None, "the catalog")
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert "catalog.next" in shown
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        rows = {(r[0], r[1], r[3]) for r in app.screen.rows}
        assert ("Catalog", "n", "catalog.next") in rows
