"""The catalog lists from the index at once; full validation runs in the background and a broken
exercise then leaves the list with its problem in the info line, or says so when opened first."""

from __future__ import annotations

from pathlib import Path

from fixtures.exercise_files import minimal, write_exercise
from lab.tui.screens.catalog import ExerciseList
from lab.tui.screens.exercise import ExerciseScreen
from tui_helpers import ready, screen_text, wait_for

BROKEN_TEMPLATE = "{% block brief %}Hello {{ nobody_defined_this }}.{% endblock %}\n"


def app_with(root: Path):
    from lab.tui.app import LabApp

    return LabApp([str(root)], cursor_blink=False, preload_litellm=False)


async def test_background_validation_takes_a_broken_exercise_out_with_its_problem(tmp_path: Path):
    root = tmp_path / "course"
    write_exercise(root, "zz/broken.j2", minimal(title="Looks fine from outside"), BROKEN_TEMPLATE)
    app = app_with(root)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        listing = app.screen.query_one(ExerciseList)
        await wait_for(pilot, lambda: "zz/broken" not in listing.ids, "validation to drop the broken exercise")
        assert "basics/bullets" in listing.ids
        text = screen_text(app)
        assert "1 exercise file(s) could not be loaded" in text
        assert "first: broken.j2:13: template error: 'nobody_defined_this' is not defined" in text


async def test_opening_a_broken_exercise_before_validation_names_its_problem(tmp_path: Path, monkeypatch):
    from lab.tui.app import LabApp

    monkeypatch.setattr(LabApp, "validate_catalog", lambda self: None)  # as if validation had not got there yet
    root = tmp_path / "course"
    write_exercise(root, "zz/broken.j2", minimal(title="Looks fine from outside"), BROKEN_TEMPLATE)
    app = app_with(root)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert "zz/broken" in app.screen.query_one(ExerciseList).ids
        app.open_exercise("zz/broken")
        def told() -> list[str]:
            return [n.message for n in app._notifications if "nobody_defined_this" in n.message]

        await wait_for(pilot, told, "the problem, in a notification")
        assert not isinstance(app.screen, ExerciseScreen)
        assert told()[0].startswith("Exercise 'zz/broken' could not be loaded:\n")
        assert "broken.j2:13: template error: 'nobody_defined_this' is not defined" in told()[0]
        await wait_for(pilot, lambda: "zz/broken" not in app.screen.query_one(ExerciseList).ids, "the list without it")


async def test_the_cli_and_the_lab_count_the_same_broken_files(tmp_path: Path, capsys):
    """Two broken files (one in its front matter, one in its template) and one good: `lab list` and the lab's
    catalog both say 2, and neither lists a broken one."""
    from lab.cli import main

    root = tmp_path / "course"
    write_exercise(root, "zz/broken.j2", minimal(title="Looks fine from outside"), BROKEN_TEMPLATE)
    write_exercise(root, "zz/keyed.j2", minimal(title="A misspelt key", minuts=5))
    write_exercise(root, "zz/good.j2", minimal(title="Fine"))
    assert main(["list", "--exercises", str(root)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("lab: 2 exercise file(s) could not be loaded;")
    assert "good" in out and "broken" not in out and "keyed" not in out
    app = app_with(root)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        listing = app.screen.query_one(ExerciseList)
        await wait_for(pilot, lambda: "2 exercise file(s) could not be loaded" in screen_text(app), "the lab's count")
        assert "zz/good" in listing.ids and "zz/broken" not in listing.ids and "zz/keyed" not in listing.ids
