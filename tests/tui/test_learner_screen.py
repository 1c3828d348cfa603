"""The learner's screen: trying one case, the response cache, two models, comparing attempts, and the
defects a new user met (a clipped code block, a grade opened at its end, esc leaving the cursor in the
editor, "recorded as failed" for what history calls "not sent", an answer exercise that spoke of prompts)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fixtures.exercise_files import minimal, write_exercise
from textual.widgets import Input, TextArea
from tui_helpers import compare_first_two_attempts, editor_text, make_app, open_exercise, screen_text, send_and_wait, wait_for

from lab.practice.store import Store

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
MANY = minimal(
    id="learn/many", title="Many criteria", track="learn", level=1,
    cases=[{"name": "one"}, {"name": "two"}],
    rubric={"pass": 1.0, "criteria": [{"id": f"has-{w}", "check": "icontains", "value": w, "feedback": f"Say {w}."} for w in WORDS]},
)
CODE = ("{% block brief %}Return this object:\n\n```json\n"
        '{"name": "...", "company": "... or null", "email": "...", "notes": "...", "phone_number_required_at_the_end": "..."}\n'
        "```\n{% endblock %}\n")
ANSWER = minimal(
    id="learn/review", title="Review the draft", track="learn", level=1, writes="answer",
    cases=[{"name": "first"}, {"name": "second"}],
    rubric={"criteria": [{"id": "names-the-bug", "check": "icontains", "value": "off by one", "feedback": "Name the bug."}]},
)


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "learn-course"
    write_exercise(root, "learn/many.j2", MANY, CODE)
    write_exercise(root, "learn/review.j2", ANSWER)
    monkeypatch.setenv("LAB_EXERCISES", str(root))
    return root


def grade_text(screen: Any) -> str:
    """What the grade widget shows, as plain text, whether or not it is scrolled into view."""
    from rich.console import Console

    from lab.tui.widgets.grade import GradeView

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(screen.query_one(GradeView).content)
    return console.export_text()


def region_text(app: Any, widget: Any) -> str:
    """The characters the terminal shows inside `widget`'s region, its lines joined."""
    r = widget.region
    rows = screen_text(app).splitlines()[r.y:r.y + r.height]
    return "".join(row[r.x:r.right].strip().lstrip("▌").strip() for row in rows)  # less the fence's edge


async def type_prompt(pilot: Any, screen: Any, text: str) -> None:
    editor = screen.query_one("#editor", TextArea)
    editor.load_text(text)
    await pilot.pause()


# ---------------------------------------------------------------------- the defects


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_grade_opens_at_its_first_criterion_and_g_brings_it_back(cassette, api_base, use_model, course, size):
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_exercise(pilot, "learn/many")
        await type_prompt(pilot, screen, "Say alpha and bravo.")
        await send_and_wait(pilot, screen)
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert "✓ has-alpha" in shown  # the first criterion is in view, not the answers' end or the grade's
        results = screen.query_one("#results")
        results.scroll_home(animate=False)  # back to the answers
        await pilot.pause(0.3)
        if size == (80, 24):
            assert "✓ has-alpha" not in screen_text(app)
        await pilot.press("escape", "g")
        await pilot.pause(0.3)
        assert "✓ has-alpha" in screen_text(app)


async def test_a_code_block_in_the_brief_wraps_instead_of_being_cut(course):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exercise(pilot, "learn/many")
        fence = screen.query_one("#brief MarkdownFence")
        await pilot.pause(0.3)
        assert fence.virtual_size.width <= fence.size.width  # nothing hidden to the right
        screen.query_one("#task").scroll_to_widget(fence, animate=False, top=True)
        await pilot.pause(0.3)
        assert "phone_number_required_at_the_end" in region_text(app, fence)


@pytest.mark.live
async def test_escape_cancels_a_run_and_leaves_the_editor(live_provider, use_model):
    use_model("openai/echo", live_provider.url)
    live_provider.hold_after = 0  # the call waits at the server until the test has cancelled it
    live_provider.gate.clear()
    app = make_app()
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            from lab.tui.screens.history import HistoryScreen

            screen = await open_exercise(pilot, "basics/greeting")
            await type_prompt(pilot, screen, "say hello")
            await pilot.press("ctrl+j")
            await wait_for(pilot, lambda: live_provider.requests, "the request to reach the server", 300)
            await pilot.press("escape")
            assert not screen.running
            assert not isinstance(app.focused, TextArea)  # the next letter is a key, not text for the prompt
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
            assert editor_text(screen) == "say hello"
    finally:
        live_provider.gate.set()


async def test_what_never_reached_a_model_is_said_not_sent_as_history_says(use_model):
    use_model("openai/gpt-4o-mini", None)  # no OPENAI_API_KEY: nothing is sent
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        from lab.tui.screens.history import HistoryScreen

        screen = await open_exercise(pilot, "basics/greeting")
        await type_prompt(pilot, screen, "say hello")
        await send_and_wait(pilot, screen)
        assert "not counted as a try (history: not sent)" in screen.status_text
        assert "recorded as failed" not in screen.status_text
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        title = screen_text(app)
        assert "0 attempt(s) · 1 not sent" in title and "not sent" in title


async def test_an_answer_exercise_speaks_of_the_answer_and_counts_no_tokens(course):
    from textual.widgets import Collapsible, Static

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "learn/review")
        assert str(screen.query_one("#editor-label", Static).render()).startswith("Your answer (ctrl+j grades it as written")
        assert screen.query_one("#cases", Collapsible).title == "Cases (2): your answer is graded on each"
        assert "you write the answer" in str(screen.query_one("#meta", Static).render())
        await type_prompt(pilot, screen, "There is an off by one error in the loop.")
        await send_and_wait(pilot, screen)
        text = grade_text(screen)
        assert "Graded as written: no model was called." in text
        assert "prompt +" not in text and "completion tokens" not in text
        assert "Your prompt" not in screen_text(app) and "one call each" not in screen_text(app)


# ---------------------------------------------------------------------- try, cache, compare, two models


async def test_try_on_this_case_previews_one_case_and_is_no_attempt(cassette, api_base, use_model):
    from lab.tui.screens.case_picker import CasePickerScreen

    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await type_prompt(pilot, screen, "- {{ topic }} one\n- two\n- three")
        await pilot.click("#try")
        await wait_for(pilot, lambda: isinstance(app.screen, CasePickerScreen), "the case picker")
        await pilot.press("down", "enter")  # the second case
        await wait_for(pilot, lambda: screen.status_text.startswith("Tried on"), "the try", 180)
        assert screen.status_text.startswith("Tried on 'tests': 2 of 2 criteria pass on it. A try is not an attempt")
        text = grade_text(screen)
        assert "Preview on case 'tests': a try, not an attempt (not counted)." in text and "✓ three-bullets" in text
        assert "PASSED" not in text  # a preview has no verdict against the pass mark
    with Store() as store:
        assert store.attempts("basics/bullets") == [] and store.progress() == {}
        assert store.tries() == 1  # its cost is kept for the day's spending, nothing else


async def test_a_repeated_send_is_answered_from_the_cache_and_ctrl_r_asks_again(cassette, api_base, use_model):
    from lab.tui.screens.history import HistoryScreen

    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        await type_prompt(pilot, screen, "say hello")
        await send_and_wait(pilot, screen)
        assert "response cache" not in screen.status_text
        await send_and_wait(pilot, screen)
        assert "Answered from the response cache (no call, $0); ctrl+r asks the model again." in screen.status_text
        assert "Cached: every answer came from the response cache" in grade_text(screen)
        before = screen.runs_started
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.runs_started > before and not screen.running, "the fresh run", 180)
        assert "response cache" not in screen.status_text
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        assert "passed · cached" in screen_text(app)
    with Store() as store:
        cached = [bool((a.result or {}).get("cached")) for a in store.attempts("basics/greeting")]
    assert cached == [False, True, False]  # newest first: asked again, from the cache, the first


async def test_history_compares_two_marked_attempts_flipped_first(seeded):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        comparison = (await compare_first_two_attempts(pilot, "basics/bullets")).comparison
        assert (comparison.a.id, comparison.b.id) == (1, 2)
        assert [c.id for c in comparison.flipped] == ["three-bullets"]
        text = screen_text(app)
        assert text.index("1 criterion changed its verdict:") < text.index("three-bullets") < text.index("Unchanged:")


async def send_on_two_models(pilot: Any, app: Any, second: str, api_base: str) -> Any:
    """Open basics/greeting, write a prompt, pick `second` as the other model (M) and send on both."""
    from lab.tui.screens.model import ModelScreen

    screen = await open_exercise(pilot, "basics/greeting")
    await type_prompt(pilot, screen, "say hello")
    await pilot.press("escape", "M")
    await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen), "the second model's picker")
    app.screen.query_one("#model-name", Input).value = second
    app.screen.query_one("#model-base", Input).value = api_base
    await pilot.press("ctrl+s")
    return screen


async def test_a_prompt_runs_on_two_models_one_after_the_other_then_the_comparison_opens(cassette, api_base, use_model, monkeypatch):
    from lab.tui.screens.compare import CompareScreen

    monkeypatch.setattr("lab.tui.screens.model.discover", lambda api_base=None: [])  # no probing of this machine's ports
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await send_on_two_models(pilot, app, "openai/scripted", api_base)
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), "the comparison", 180)
        comparison = app.screen.comparison
        assert (comparison.a.model, comparison.b.model) == ("openai/echo", "openai/scripted")
        assert "Ran on both: openai/echo 1.00 · openai/scripted 1.00." in screen.status_text
    with Store() as store:
        assert [a.model for a in store.attempts("basics/greeting")] == ["openai/scripted", "openai/echo"]
    from lab.settings.config import load_settings

    assert load_settings().model == "openai/echo"  # the second model was not saved as the learner's


async def test_when_the_second_model_fails_the_first_s_grade_stays_and_the_failure_is_said(cassette, api_base, use_model, monkeypatch):
    """The failure of the second model of a run on two used to replace the first's grade with an error; now the
    first model's grade is shown (its pass counts) and the other's failure is said beside it, as `lab run` does."""
    monkeypatch.setattr("lab.tui.screens.model.discover", lambda api_base=None: [])
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await send_on_two_models(pilot, app, "openai/fail-500", api_base)  # the tests' server answers it with a 500
        await wait_for(pilot, lambda: not screen.running and screen.status_text.startswith("Passed"), "the first model's grade", 180)
        assert screen.passed
        said = [str(n.message) for n in app._notifications]
        assert any(m.startswith("The other model failed: ") and "internal error (500)" in m for m in said), said
    with Store() as store:
        assert [(a.model, a.status) for a in store.attempts("basics/greeting")] == [("openai/fail-500", "failed"), ("openai/echo", "graded")]
