"""Cost in view in the lab (issue 14): the estimate under the editor follows the text, the session's and
today's spend stay in view, and over the daily cap a dialog asks; declining sends nothing."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from tui_helpers import make_app, open_exercise, send_and_wait, wait_for

from lab.practice.store import Store
from lab.tui.screens.cost_cap import CostCapScreen

OVER = "You have spent $0.2500 today, over your daily cap of $0.1000 (max_cost, LAB_MAX_COST)"


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


@pytest.fixture
def spent_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quarter of a dollar spent a moment ago, and a cap of a dime."""
    with Store() as store:
        attempt_id = store.begin_attempt(exercise_id="basics/greeting", exercise_hash="h", track="basics",
                                         model="openai/gpt-4o-mini", api_base=None, prompt="earlier")
        store.finish_attempt(attempt_id, status="graded", cost_usd=0.25)
    monkeypatch.setenv("LAB_MAX_COST", "0.1")


def bullets_attempts() -> list[str]:
    with Store() as store:
        return [a.status for a in store.attempts("basics/bullets")]


async def test_the_estimate_follows_the_editor_and_the_spend_is_in_view(use_model):
    use_model("openai/echo", "http://127.0.0.1:9/v1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await wait_for(pilot, lambda: screen.estimated_text is not None, "the first estimate")
        # two cases, one sample; "Tell me about version control." is 30 characters: 8 tokens + 4, and 27 for unit tests: 7 + 4
        assert shown(screen, "#estimate") == "≈ 2 calls · ~23 tokens · price unknown"
        assert shown(screen, "#spend") == "Spent $0.0000 session · $0.0000 today"
        editor = screen.query_one("#editor")
        editor.insert(" Tell me more, at length, please.", editor.document.end)  # 33 characters more per case
        await wait_for(pilot, lambda: "~23 tokens" not in shown(screen, "#estimate"), "the estimate to follow the text")
        assert shown(screen, "#estimate") == "≈ 2 calls · ~39 tokens · price unknown"
        assert screen.estimated_text == "Tell me about {{ topic }}. Tell me more, at length, please."


async def test_over_the_cap_declining_sends_nothing(spent_today, use_model):
    use_model("openai/echo", "http://127.0.0.1:9/v1")  # nobody there: a request would be recorded as not sent
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        assert shown(screen, "#spend") == "Spent $0.2500 session · $0.2500 today · cap $0.1000"
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: isinstance(app.screen, CostCapScreen), "the cap's question")
        assert shown(app.screen, "#cost-message") == f"{OVER}. Send anyway?"
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, "the question to close")
        assert screen.status_text == f"Nothing was sent: {OVER}. Your prompt is still in the editor."
        assert screen.runs_started == 0 and not screen.running
        # escape is no as well
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: isinstance(app.screen, CostCapScreen), "the cap's question again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "the question to close again")
        assert screen.runs_started == 0
    assert bullets_attempts() == []  # no request, no record


async def test_over_the_cap_yes_sends(spent_today, cassette, api_base, use_model):
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: isinstance(app.screen, CostCapScreen), "the cap's question")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.runs_started == 1 and not screen.running, "the run to finish", 180)
        assert bullets_attempts() == ["graded"]
        assert shown(screen, "#spend") == "Spent $0.2500 session · $0.2500 today · cap $0.1000"


async def test_under_the_cap_nothing_is_asked(cassette, api_base, use_model, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_MAX_COST", "5")
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await send_and_wait(pilot, screen)
        assert not isinstance(app.screen, CostCapScreen)
        assert bullets_attempts() == ["graded"]
