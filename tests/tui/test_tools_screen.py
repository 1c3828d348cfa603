"""The exercise screen with tools: each call (with its arguments) and each tool's result drawn as the run streams,
in order, collapsed to one line cut to the pane's width until opened; the rounds notice; history shows a stored
run's calls; snapshots at 120x40 and 80x24.

These tests use their own exercises (tests/tui/tool_exercises), so the other screens' snapshots never change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Collapsible, Static
from tui_helpers import make_app, open_exercise, screen_text, send_and_wait

TOOL_EXERCISES = Path(__file__).resolve().parent / "tool_exercises"
ASK = "Where is my order?\nCALL get_order {\"order_id\": \"5512\"}"


@pytest.fixture(autouse=True)
def tool_course(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.settings.paths

    monkeypatch.setattr(lab.settings.paths, "bundled_exercises_dir", lambda: TOOL_EXERCISES)


def drawn(view: Any) -> list[str]:
    """A conversation's widgets as drawn: labels, messages, and a call or a result as its one-line title."""
    lines = []
    for widget in view.children:
        if isinstance(widget, Collapsible):
            lines.append(("▶ " if widget.collapsed else "▼ ") + str(widget.title))
        elif isinstance(widget, Static):
            lines.append(str(widget.render()))
    return lines


async def test_a_run_draws_each_call_and_its_result_collapsed_then_the_answer(cassette, api_base, use_model):
    use_model("openai/agent", api_base)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_exercise(pilot, "agents/order")
        screen.set_prompt(ASK)
        await send_and_wait(pilot, screen)
        assert screen.status_text.startswith("Passed with 1.00!")
        view = screen.streams[(0, "shipped", 0)]
        assert drawn(view) == ["[user · yours]", ASK, '▶ [call] get_order {"order_id": "5512"}',
                               '▶ [result · get_order] {"order": "5512", "status": "shipped"}', "[answer]",
                               '{"order": "5512", "status": "shipped"}']
        result = view.query(Collapsible).last()
        result.collapsed = False  # opened: the whole result
        await pilot.pause()
        assert str(result.query_one(".message", Static).render()) == '{"order": "5512", "status": "shipped"}'


async def test_a_model_that_never_stops_is_cut_off_and_the_learner_told_why(cassette, api_base, use_model):
    use_model("openai/agent-loop", api_base)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_exercise(pilot, "agents/order")
        screen.set_prompt("Hello")
        await send_and_wait(pilot, screen)
        assert "the model was still calling tools after 2 rounds (model.tool_rounds, set by the exercise)" in screen.status_text
        lines = drawn(screen.streams[(0, "shipped", 0)])
        assert lines[-1] == "▶ [call · not answered: the rounds ran out] get_order {}"
        assert sum(line.startswith("▶ [result · get_order · refused] error: the arguments of get_order") for line in lines) == 2
        title = str(screen.query(".output-title").first().render())
        assert title.endswith("cut off: still calling tools when the rounds ran out")


async def test_a_long_call_and_result_stay_one_line_each_cut_with_an_ellipsis_and_open_whole():
    """At a small terminal's width a call's arguments and a result's text never wrap into the conversation: each is
    one line ending in …; opened, the call shows its arguments laid out as JSON, the result its whole text.
    A title is text as written: a result holding Textual markup draws its brackets."""
    from textual.app import App

    from lab.format.conversation import Message
    from lab.format.tools import ToolCall
    from lab.tui.app import LabApp
    from lab.tui.widgets.conversation import ConversationView

    args = '{"order_id": "5512", "note": "please check the warehouse and tell me when it ships"}'
    shown = "[b]not bold[/b] and [link=https://example.com]a link[/link]; the order has shipped from the warehouse today"
    messages = [Message("assistant", "", "model", calls=(ToolCall("c1", "get_order", args),)),
                Message("tool", shown, "exercise", call_id="c1", tool="get_order")]

    class One(App):
        CSS_PATH = LabApp.CSS_PATH

        def compose(self):
            yield ConversationView(messages)

    app = One()
    async with app.run_test(size=(38, 12)) as pilot:
        await pilot.pause()
        call, result = app.query(Collapsible)
        for box in (call, result):
            title = box.query_one("CollapsibleTitle")
            assert title.size.height == 1
        rows = [row.strip() for row in screen_text(app).splitlines()]
        assert rows[0].startswith('▶ [call] get_order {"order_id"') and rows[0].endswith("…") and len(rows[0]) <= 38
        assert rows[1].startswith("▶ [result · get_order] [b]not bold") and rows[1].endswith("…")
        call.collapsed = False
        await pilot.pause()
        assert str(call.query_one(".message", Static).render()) == (
            '{\n  "order_id": "5512",\n  "note": "please check the warehouse and tell me when it ships"\n}')
        assert call.query_one("CollapsibleTitle").size.height == 1  # opened, the title stays one line


# ---------------------------------------------------------------- snapshots


async def at_a_tool_run(pilot: Any) -> None:
    """After a run of agents/order: the call, its result collapsed, the answer (the time fixed)."""
    from lab.tui.widgets.grade import GradeView

    screen = await open_exercise(pilot, "agents/order")
    screen.set_prompt(ASK)
    await send_and_wait(pilot, screen)
    result = dict(pilot.app.session.store.attempts("agents/order")[0].result)
    result["duration_s"] = 0.4  # the one figure that depends on the machine
    screen.query_one(GradeView).show_result(result)
    screen.query_one("#results").scroll_home(animate=False)  # the call and its result (a run ends with its grade's first criterion in view)
    await pilot.pause()


def test_a_tool_run(snap_compare: Any, use_model, cassette, api_base) -> None:
    use_model("openai/agent", api_base)
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=at_a_tool_run)


def test_a_tool_run_at_80x24(snap_compare: Any, use_model, cassette, api_base) -> None:
    """The smallest terminal: the call and the result one line each, cut with an ellipsis; the answers keep their rows."""
    use_model("openai/agent", api_base)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=at_a_tool_run)
