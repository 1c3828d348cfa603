"""A failing call shows one clear message in place, keeps the prompt, records the attempt as failed,
and leaves the app usable."""

from __future__ import annotations

import pytest
from textual.widgets import Static, TextArea
from tui_helpers import editor_text, make_app, open_exercise, screen_text, send_and_wait, wait_for

from lab.practice.store import Store

PROMPT = "say hello"


async def failed_send(model: str, api_base: str | None, use_model, monkeypatch=None) -> tuple[str, str]:
    use_model(model, api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        screen.query_one("#editor", TextArea).load_text(PROMPT)
        await send_and_wait(pilot, screen)
        status = screen.status_text
        assert editor_text(screen) == PROMPT
        shown = screen.query_one("#status", Static)
        assert str(shown.render()) == status and shown.region.height >= 1  # drawn in place, under the editor
        r = shown.region
        rows = screen_text(app).splitlines()[r.y:r.y + r.height]
        visible = " ".join(row[r.x:r.right] for row in rows)
        assert " ".join(visible.split()) == " ".join(status.split()), "the message is cut off"
        assert status.split(" ")[0] in screen_text(app)
        assert not screen.query_one("#grade").display
        # the app is still alive: keys still work
        await pilot.press("escape", "h")
        assert "Hint 1/1:" in screen_text(app)
    with Store() as store:
        attempt = store.attempts("basics/greeting")[0]
    return status, attempt.status


@pytest.mark.parametrize(("model", "expected"), [
    ("openai/fail-500", "had an internal error (500) and retries did not help"),
    ("openai/unauthorized", "refused the API key for openai/unauthorized (401)"),
    ("openai/flaky-429", "is rate-limiting requests (429)"),
    ("openai/malformed", "could not be read as a chat completion"),
])
async def test_provider_failures_are_one_clear_message(cassette, api_base, use_model, model, expected):
    status, recorded = await failed_send(model, api_base, use_model)
    assert expected in status
    assert status.endswith("The attempt is recorded as failed; your prompt is still in the editor.")
    assert recorded == "failed"


@pytest.mark.live
async def test_server_down(use_model):
    status, recorded = await failed_send("openai/echo", "http://127.0.0.1:9/v1", use_model)
    assert status.startswith("Could not reach http://127.0.0.1:9/v1: is the server running and the address right?")
    assert recorded == "not_sent"  # never reached a model: not a try


@pytest.mark.live
async def test_timeout(live_provider, use_model, monkeypatch):
    monkeypatch.setenv("LAB_TIMEOUT", "1")
    status, recorded = await failed_send("openai/slow", live_provider.url, use_model)
    assert status.startswith("openai/slow did not answer within 1 s")
    assert recorded == "failed"


async def test_missing_key(use_model):
    status, recorded = await failed_send("openai/gpt-4o-mini", None, use_model)
    assert status.startswith("No API key for openai/gpt-4o-mini: set OPENAI_API_KEY in your environment")
    assert recorded == "not_sent"  # never reached a model: not a try


async def test_bad_prompt_is_reported_and_nothing_is_recorded(use_model):
    use_model("openai/echo", "http://127.0.0.1:9/v1")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        screen.query_one("#editor", TextArea).load_text("Hello {{ nobody }}")
        await pilot.press("ctrl+j")
        assert not screen.running
        assert "nobody" in screen.status_text
        screen.query_one("#editor", TextArea).load_text("   ")
        await pilot.press("ctrl+j")
        assert screen.status_text == "Your prompt is empty: write one before sending."
    with Store() as store:
        assert store.attempts() == []


async def test_broken_config_file_opens_the_lab_with_a_message(monkeypatch):
    from lab.settings import paths

    paths.config_file().write_text("model = [unclosed\n")
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        from tui_helpers import ready

        await ready(pilot)
        await pilot.pause(0.2)
        messages = [n.message for n in app._notifications]
        assert any("not valid TOML" in m for m in messages)
        assert "No model chosen yet" in screen_text(app)


async def test_an_unknown_config_key_is_reported_when_the_lab_opens():
    from lab.settings import paths

    paths.config_file().write_text('modle = "openai/gpt-4o-mini"\n')
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        from tui_helpers import ready

        await ready(pilot)
        await pilot.pause(0.2)
        messages = [n.message for n in app._notifications]
        assert any("unknown key 'modle' is ignored; did you mean 'model'?" in m for m in messages)


async def test_an_unreadable_progress_database_is_reported_on_the_catalog(lab_home):
    (lab_home / "lab.db").write_bytes(b"this is not a database" * 100)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        from tui_helpers import wait_for

        await wait_for(pilot, lambda: app.load_error is not None, "the load to fail")
        text = screen_text(app)
        assert "The lab could not start:" in text and "cannot be opened" in text
        await pilot.press("f1")  # still alive: the help opens
        from lab.tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)


@pytest.mark.live
async def test_quitting_while_the_model_answers_records_the_attempt_as_cancelled(live_provider, use_model, monkeypatch):
    monkeypatch.setenv("LAB_TIMEOUT", "30")
    use_model("openai/slow", live_provider.url)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        screen.query_one("#editor", TextArea).load_text(PROMPT)
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: Store().attempts("basics/greeting"), "the attempt to be recorded")
    app.session.abandon_in_flight()  # what run_app does on the way out, before leaving the call behind
    with Store() as store:
        attempt = store.attempts("basics/greeting")[0]
    assert (attempt.status, attempt.error, attempt.prompt) == ("cancelled", "The lab was closed while the model was answering.", PROMPT)


async def test_a_toast_with_words_from_outside_is_shown_as_they_are():
    """A provider's error or a file name in a toast may hold `[/]` or `[link=…]`; read as markup it broke the drawing."""
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.session is not None, "the catalog")
        app.notify("The other model failed: bad request [/] see [link=http://x]here[/link]", severity="error")
        app.screen.notify("Not saved: /tmp/[b]draft[/b].txt")
        await pilot.pause(0.3)  # drawn: as markup, the first raises MarkupError when its toast is drawn
        shown = [(n.message, n.markup) for n in app._notifications]
        assert ("The other model failed: bad request [/] see [link=http://x]here[/link]", False) in shown
        assert ("Not saved: /tmp/[b]draft[/b].txt", False) in shown
