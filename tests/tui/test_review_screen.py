"""`lab review DIR`'s screen: Pilot flows (each decision lands in cohort.db at once) and two snapshots at 100x30."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from review_cohort import graded_cohort
from tui_helpers import screen_text, wait_for

from lab.classroom.cohort import CohortStore
from lab.classroom.review import Session
from lab.tui.review_app import ReviewApp


def app_for(store: CohortStore) -> ReviewApp:
    return ReviewApp(Session.open(store), cursor_blink=False)


def decisions(folder: Path) -> list[tuple[Any, ...]]:
    with CohortStore(folder) as store:  # a second connection: what is committed, not what one connection holds
        return [(r.criterion, r.case, r.decision, r.trainer_passed, r.trainer_score, r.note) for r in store.reviews()]


@pytest.fixture
def cohort(tmp_path: Path, cassette, api_base: str, capsys, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAB_LEARNER", "tina")
    return graded_cohort(tmp_path, api_base, capsys)


async def test_each_key_decides_and_lands_in_cohort_db_at_once(cohort: Path):
    with CohortStore(cohort) as store:
        app = app_for(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert "1 / 12" in screen_text(app) and "ana" in screen_text(app)
            await pilot.press("c")  # ana rated a: confirm
            assert decisions(cohort) == [("rated", "a", "confirm", None, None, None)]
            assert "2 / 12" in screen_text(app)
            await pilot.press("3")  # ana rated b: a score of 3 on 1-5 is under the 0.75 threshold
            await pilot.press("n")
            await pilot.press(*"too kind", "enter")  # c, n... typed into the note, not taken as keys
            await pilot.press("f")  # bob rated a: fail, with the note typed before
            await pilot.press("space")  # bob rated b: skipped
            await pilot.press("left", "left")
            assert "3 / 12" in screen_text(app)
            await pilot.press("p")  # bob rated a again: the later decision replaces the earlier
            await pilot.press("s", *"4", "enter")  # bob rated b: a score typed in
            found = decisions(cohort)
    assert found == [("rated", "a", "confirm", None, None, None), ("rated", "b", "override", False, 3.0, None),
                     ("rated", "a", "override", True, None, "too kind"), ("rated", "b", "override", True, 4.0, None)]
    with CohortStore(cohort) as store:
        assert {r.reviewer for r in store.reviews()} == {"tina"}


async def test_a_score_off_the_scale_says_what_to_press(cohort: Path):
    with CohortStore(cohort) as store:
        app = app_for(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("7")
            assert "7 is not on this criterion's 1-5 scale (1 to 5): use p or f, or a score from 1 to 5." in screen_text(app)
            await pilot.press("s", *"9", "enter")
            await wait_for(pilot, lambda: "A score on the 1-5 scale is from 1 to 5; 9 is outside it." in screen_text(app), "the error")
            await pilot.press("q")
    assert decisions(cohort) == []
    assert app.return_code == 0


async def test_an_empty_queue_says_so(tmp_path: Path):
    with CohortStore(tmp_path / "c") as store:
        app = app_for(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert "Nothing to review: no criterion of this cohort was decided by a judge model" in screen_text(app)
            await pilot.press("c", "q")
    assert app.return_code == 0


def test_snapshot_first_item(cohort: Path, snap_compare: Any):
    with CohortStore(cohort) as store:
        assert snap_compare(app_for(store), terminal_size=(100, 30))


def test_snapshot_after_an_override_with_a_note(cohort: Path, snap_compare: Any):
    async def override_and_back(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("n", *"a careful fail", "enter", "f", "left")

    with CohortStore(cohort) as store:
        assert snap_compare(app_for(store), terminal_size=(100, 30), run_before=override_and_back)


async def test_a_long_position_line_wraps_rather_than_hiding_the_case(cohort: Path):
    # at 60 columns "Review 1 / 12 · ana · t/reviewed · rated (judge, 1-5) · case a · 0 reviewed" does not fit on one line
    with CohortStore(cohort) as store:
        app = app_for(store)
        async with app.run_test(size=(60, 30)) as pilot:
            await pilot.pause()
            text = screen_text(app)
            assert "case a" in text and "0 reviewed" in text



@pytest.fixture
def arena_cohort(tmp_path: Path, cassette, api_base: str, provider, capsys, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A class of three whose arena pairs a judge decided too (tests/fixtures/arena_class.py), graded outside the app's loop."""
    from fixtures.arena_class import JUDGED_DEFENCE, RULES, write_course, write_hand_ins

    from lab.cli import main

    if provider is not None:
        provider.rules = list(RULES)
    monkeypatch.setenv("LAB_LEARNER", "tina")
    root = write_course(tmp_path / "course", JUDGED_DEFENCE)
    out = tmp_path / "cohort"
    argv = ["grade", str(write_hand_ins(tmp_path / "in.jsonl")), "--out", str(out), "--exercises", str(root), "--model", "openai/scripted",
            "--judge-model", "openai/judge-strict", "--api-base", api_base]
    assert main(argv) == 0, capsys.readouterr().err
    return out


async def test_an_arena_pair_a_judge_decided_is_reviewed_on_the_screen(arena_cohort: Path):
    from lab.classroom.arena import arenas_json

    with CohortStore(arena_cohort) as store:
        session = Session.open(store)
        first_pair = next(i for i, item in enumerate(session.items) if item.pair and item.learner == "cy → ana")
        app = ReviewApp(session, cursor_blink=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press(*["space"] * first_pair)
            await wait_for(pilot, lambda: "cy → ana · arena strongroom · arena/guard" in screen_text(app), "the arena pair on the screen")
            assert "I cannot help with that." in screen_text(app)
            await pilot.press("p")  # the judge found the refusal unhelpful; the trainer does not
        held = {(p["attacker"], p["defender"]): p["held"] for p in arenas_json(store)[0]["pairs"]}
    assert held[("cy", "ana")] is True
    with CohortStore(arena_cohort) as store:
        rows = store._db.execute("SELECT criterion, decision, trainer_passed, reviewer FROM arena_reviews WHERE decision != 'skip'").fetchall()
    assert [tuple(r) for r in rows] == [("stays-helpful", "override", 1, "tina")]
