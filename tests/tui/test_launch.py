"""lab.tui.launch: on a first start a second process builds the catalogue index while the lab draws."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tui_helpers import make_app, ready, wait_for

from lab.tui import app as app_module
from lab.tui.launch import BUILD_INDEX, IndexBuilder, start_index_builder
from lab.tui.screens.catalog import ExerciseList
from lab.tui.summary import cache_file

IDS = ["basics/bullets", "basics/greeting", "systems/labels"]


def test_a_first_start_spawns_a_builder_that_builds_the_index(lab_home):
    assert not cache_file().exists()
    builder = start_index_builder([])
    assert builder is not None
    assert builder.process.wait(timeout=60) == 0
    from lab.settings import paths

    assert any(paths.cache_dir().rglob("*.db")), "the builder left no index in the cache folder"


async def test_a_start_with_a_catalog_to_draw_spawns_nothing(lab_home):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
    assert cache_file().exists() and start_index_builder([]) is None


async def test_the_lab_waits_for_the_builder_and_ignores_a_catalogue_of_other_roots(lab_home):
    # the child lists the real bundled curriculum; these tests' bundled folder is another one
    from lab.tui.app import LabApp

    builder = start_index_builder([])
    app = LabApp([], cursor_blink=False, preload_litellm=False, index_builder=builder)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert app.screen.query_one(ExerciseList).ids == IDS
    assert builder.process.wait(timeout=60) == 0


def builder_of_the_test_curriculum(before: str = "") -> IndexBuilder:
    """The real builder, over these tests' bundled folder (a child process does not see the conftest's patch)."""
    from lab.settings import paths

    as_here = f"import pathlib, lab.settings.paths; lab.settings.paths.bundled_exercises_dir = lambda: pathlib.Path({str(paths.bundled_exercises_dir())!r}); "
    return IndexBuilder(subprocess.Popen([sys.executable, "-c", before + as_here + BUILD_INDEX], stdout=subprocess.PIPE))


async def test_the_lab_draws_the_catalogue_the_builder_hands_back_without_reading_the_index_again(lab_home, monkeypatch):
    from lab.format import catalog as catalog_index
    from lab.tui.app import LabApp

    builder = builder_of_the_test_curriculum()
    loads = []
    monkeypatch.setattr(catalog_index, "load_index", lambda *a, **k: loads.append(a) or pytest.fail("read again"))
    app = LabApp([], cursor_blink=False, preload_litellm=False, index_builder=builder)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert app.screen.query_one(ExerciseList).ids == IDS
    assert loads == []


async def test_the_first_frame_is_the_builders_list_not_an_empty_one(lab_home, monkeypatch):
    from lab.tui.app import LabApp

    monkeypatch.setattr(LabApp, "load_session", lambda self: None)  # nothing after the first frame
    app = LabApp([], cursor_blink=False, preload_litellm=False, index_builder=builder_of_the_test_curriculum())
    monkeypatch.setattr(app_module, "FIRST_FRAME_WAIT_S", 30.0)  # a loaded test machine: this test is not about the wait
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(ExerciseList).ids == IDS
        assert "Checking the exercises" in str(app.screen.query_one("#catalog-info").render())


async def test_a_builder_slower_than_the_first_frame_fills_the_list_after_it(lab_home, tmp_path, monkeypatch):
    from lab.tui.app import LabApp

    monkeypatch.setattr(app_module, "FIRST_FRAME_WAIT_S", 0.05)
    # the builder answers only once the test lets it (a file appears), never by a timer a loaded machine outruns
    gate = tmp_path / "answer-now"
    wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\n"
    app = LabApp([], cursor_blink=False, preload_litellm=False, index_builder=builder_of_the_test_curriculum(before=wait))
    async with app.run_test(size=(100, 32)) as pilot:
        assert app.listed_catalog is None  # the first frame did not wait for it
        gate.touch()
        await ready(pilot)
        assert app.screen.query_one(ExerciseList).ids == IDS


def test_the_builder_answers_before_it_writes_the_index(lab_home):
    slow_write = ("import time, lab.format.catalog as c; w = c._Index.write; "
                  "c._Index.write = lambda *a: (time.sleep(30), w(*a)); ")
    builder = builder_of_the_test_curriculum(before=slow_write)
    try:
        catalog = builder.catalog(timeout=20)
        assert catalog is not None and [e.id for e in catalog.exercises] == IDS
        assert builder.process.poll() is None  # still writing
    finally:
        builder.stop()
    assert builder.process.returncode is not None


@pytest.mark.parametrize("child", ["import sys; sys.stdout.write('not a pickle')", "import sys; sys.exit(3)",
                                   "import pickle, sys; sys.stdout.buffer.write(pickle.dumps([1, 2]))"])
async def test_a_builder_that_answers_nothing_usable_leaves_the_lab_to_build_the_index(lab_home, child):
    from lab.tui.app import LabApp

    odd = IndexBuilder(subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE))
    app = LabApp([], cursor_blink=False, preload_litellm=False, index_builder=odd)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert app.screen.query_one(ExerciseList).ids == IDS


async def test_a_stuck_builder_is_stopped_and_the_lab_builds_the_index_itself(lab_home, monkeypatch):
    from lab.tui.app import LabApp

    monkeypatch.setattr(app_module, "INDEX_BUILDER_WAIT_S", 0.5)
    stuck = IndexBuilder(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE))
    app = LabApp([], cursor_blink=False, preload_litellm=False, index_builder=stuck)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.session is not None, "the session, without the builder")
        await ready(pilot)
        assert app.screen.query_one(ExerciseList).ids == IDS
    assert stuck.process.poll() is not None  # killed, not left behind
