"""The learner's flows through the app, driven with Pilot against cassettes of the fake provider."""

from __future__ import annotations

import tomllib

import pytest
from conftest import TUI_EXERCISES
from textual.widgets import DataTable, Input, OptionList, TextArea
from tui_helpers import editor_text, make_app, open_exercise, ready, screen_text, send_and_wait, wait_for

from lab.practice.store import Store
from lab.tui.screens.catalog import CatalogScreen, ExerciseList
from lab.tui.screens.exercise import ExerciseScreen
from lab.tui.screens.history import AttemptScreen, DiffScreen, HistoryScreen
from lab.tui.screens.model import ModelScreen
from lab.tui.screens.progress import ProgressScreen
from lab.tui.session import NO_MODEL_MESSAGE

GOOD = "- {{ topic }} one\n- two\n- three"


async def type_prompt(pilot, screen, text: str) -> None:
    editor = screen.query_one("#editor", TextArea)
    editor.focus()
    editor.clear()
    for line_number, line in enumerate(text.split("\n")):
        if line_number:
            await pilot.press("enter")
        await pilot.press(*line)


async def test_open_type_send_and_read_the_grade(cassette, api_base, use_model):
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        # open the exercise the way a learner does: filter, then enter
        await pilot.press("slash", *"bullets", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen), "the exercise to open")
        screen = app.screen
        assert screen.exercise.id == "basics/bullets"
        assert editor_text(screen) == "Tell me about {{ topic }}."  # the starter text
        await type_prompt(pilot, screen, GOOD)
        assert editor_text(screen) == GOOD
        await send_and_wait(pilot, screen)
        text = screen_text(app)
        assert "PASSED" in text and "pass mark 0.80" in text
        assert "three-bullets" in text and "×2" in text
        assert screen.status_text.startswith("Passed with 1.00!")
        assert screen.query_one("#solution").display  # the model solution appears after a pass
        outputs = [str(m.source) for m in screen.query(".output")]
        assert "- version control one\n- two\n- three" in outputs[0].strip() or any("version control one" in o for o in outputs)
        assert editor_text(screen) == GOOD  # the prompt stays
        # the raw text the checks graded, bullets and all; `t` renders it as Markdown and back
        screen.query_one("#results").anchor(False)
        screen.query(".output").first().scroll_visible(animate=False, top=True)
        await pilot.pause()
        assert "- version control one" in screen_text(app)
        await pilot.press("escape", "t")
        await pilot.pause()
        assert "- version control one" not in screen_text(app) and "version control one" in screen_text(app)
        await pilot.press("t")
        await pilot.pause()
        assert "- version control one" in screen_text(app)
    with Store() as store:
        attempt = store.attempts("basics/bullets")[0]
    assert attempt.status == "graded" and attempt.passed and attempt.prompt == GOOD and attempt.model == "openai/echo"


async def test_fail_take_a_hint_then_pass_and_see_progress(cassette, api_base, use_model):
    """The loop the issue asks for: a graded attempt, a hint, a better attempt, a visible progress change."""
    use_model("openai/echo", api_base)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await send_and_wait(pilot, screen)  # the starter prompt: echoed back, not three bullets
        assert "✗ three-bullets" in screen_text(app)  # the grade opens at its first criterion
        assert screen.status_text.startswith("Not passed yet: ") and "press h for a hint" in screen.status_text
        assert not screen.query_one("#solution").display
        await pilot.press("escape")  # leave the editor, so that letters are keys
        assert not isinstance(app.focused, TextArea)
        await pilot.press("h")
        assert "Hint 1/2:" in screen_text(app)
        await pilot.press("e")
        await type_prompt(pilot, screen, GOOD)
        await send_and_wait(pilot, screen)
        assert "✓ three-bullets" in screen_text(app) and screen.passed
        await pilot.press("escape", "escape")  # leave the editor, back to the catalog
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), "the catalog")
        line = app.screen.query_one(ExerciseList).line_of("basics/bullets")
        assert line.startswith("✓") and line.endswith("1.00")
        assert "1/2 passed" in screen_text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen), "the progress screen")
        assert "Scores of your last 2 graded attempt(s)" in screen_text(app)
        assert "1 of 2 passed" in screen_text(app)
    with Store() as store:
        first, second = reversed(store.attempts("basics/bullets"))
    assert (first.hints_used, first.passed) == (0, False)
    assert (second.hints_used, second.passed) == (1, True)


async def test_next_opens_the_following_exercise_after_a_pass(seeded):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")  # passed in the seeded history
        await pilot.press("escape")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen) and app.screen.exercise.id == "basics/greeting",
                       "the next exercise")
        assert len(app.screen_stack) == 2  # catalog + one exercise, not a growing stack
        await pilot.press("escape", "n")  # greeting is passed too
        await wait_for(pilot, lambda: app.screen.exercise.id == "systems/labels", "the exercise after that")
        await pilot.press("escape", "n")
        await pilot.pause(0.2)
        assert app.screen.exercise.id == "systems/labels"  # not passed yet: n does nothing
        assert screen is not app.screen


@pytest.mark.live
async def test_escape_cancels_a_run_in_flight(live_provider, use_model):
    use_model("openai/slow", live_provider.url)
    live_provider.slow_seconds = 20.0  # the server stays silent far longer than the test waits
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        await type_prompt(pilot, screen, "say hello")
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: screen.running, "the run to start", 60)
        await wait_for(pilot, lambda: live_provider.requests, "the request to reach the server", 180)
        await pilot.press("escape")
        assert not screen.running  # the screen is free at once, whatever the model does
        assert screen.status_text == "Cancelled. Your prompt is still in the editor."
        assert editor_text(screen) == "say hello"

        def recorded() -> bool:
            with Store() as store:
                attempts = store.attempts("basics/greeting")
            return bool(attempts) and attempts[0].status == "cancelled"

        # before the first token: recorded as cancelled at once, not when the server finally answers
        await wait_for(pilot, recorded, "the attempt to be recorded as cancelled", 60)


async def test_history_open_diff_and_restore(seeded):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await type_prompt(pilot, screen, "something new")
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        history = app.screen
        table = history.query_one(DataTable)
        assert table.row_count == 2
        assert table.get_row_at(0)[1:5] == ["2", "2026-01-05 09:10", "openai/echo", "passed"]
        assert table.get_row_at(1)[4] == "not passed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AttemptScreen), "the attempt detail")
        detail = screen_text(app)
        assert "Attempt #2" in detail and "- {{ topic }} one" in detail and "PASSED" in detail
        await pilot.press("escape")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen), "the diff")
        diff = screen_text(app)
        assert "-Tell me about {{ topic }}." in diff and "+- {{ topic }} one" in diff
        await pilot.press("escape")
        await pilot.press("j", "r")  # the older attempt's prompt back into the editor
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen), "the exercise")
        assert editor_text(screen) == "Tell me about {{ topic }}."
        assert "Restored" in screen.status_text
        await pilot.press("ctrl+z")  # the restore is one undoable edit
        assert editor_text(screen) == "something new"


async def test_choose_a_model_from_discovery_and_save_it(live_provider, monkeypatch):
    monkeypatch.setenv("LAB_API_BASE", live_provider.url)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert NO_MODEL_MESSAGE in screen_text(app).replace("\n", " ") or "No model chosen yet" in screen_text(app)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen), "the model screen")
        options = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: any(c.model == "openai/echo" for c in app.screen.choices), "the configured server's models")
        index = next(i for i, c in enumerate(app.screen.choices) if c.model == "openai/echo")
        options.highlighted = index
        await pilot.press("enter")
        assert app.screen.query_one("#model-name", Input).value == "openai/echo"
        assert app.screen.query_one("#model-base", Input).value == live_provider.url
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), "the catalog")
        assert app.session.settings.model == "openai/echo"
        assert "Model: openai/echo" in screen_text(app)
    from lab.settings import paths

    saved = tomllib.loads(paths.config_file().read_text())
    assert saved["model"] == "openai/echo" and saved["api_base"] == live_provider.url


async def test_free_text_model_is_checked_before_saving():
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen), "the model screen")
        app.screen.query_one("#model-name", Input).value = "gpt 4"
        await pilot.press("ctrl+s")
        assert "no spaces allowed" in screen_text(app)
        app.screen.query_one("#model-name", Input).value = "haiku"
        await pilot.press("ctrl+s")
        assert "'haiku' needs its provider in front: litellm names models provider/model" in screen_text(app).replace("\n", " ")
        assert isinstance(app.screen, ModelScreen)
        app.screen.query_one("#model-name", Input).value = "ollama_chat/llama3.2"
        app.screen.query_one("#model-base", Input).value = "localhost:11434"
        await pilot.press("ctrl+s")
        assert "must be a URL" in screen_text(app)
        app.screen.query_one("#model-base", Input).value = "http://127.0.0.1:11434"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ModelScreen), "the model screen to close")
        assert (app.session.settings.model, app.session.settings.api_base) == ("ollama_chat/llama3.2", "http://127.0.0.1:11434")


async def test_without_a_model_everything_but_sending_works():
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert "No model chosen yet" in screen_text(app)
        screen = await open_exercise(pilot, "basics/bullets")
        assert screen.status_text == NO_MODEL_MESSAGE
        await type_prompt(pilot, screen, GOOD)
        await pilot.press("ctrl+j")
        assert not screen.running and screen.status_text == NO_MODEL_MESSAGE
        await pilot.press("f2")  # a hint, from inside the editor
        assert "Hint 1/2:" in screen_text(app)
    with Store() as store:
        assert store.attempts() == []
        assert store.draft("basics/bullets") == GOOD  # saved on the way out, however quick the quit
        assert store.hints_revealed("basics/bullets") == 1


async def test_draft_is_saved_while_typing_and_reloaded():
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        await type_prompt(pilot, screen, "draft text")

        def saved() -> bool:
            with Store() as store:
                return store.draft("basics/greeting") == "draft text"

        await wait_for(pilot, saved, "the debounced draft save", 60)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert "Continue where you left off: Make it say hello" in screen_text(app)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen), "the exercise")
        assert editor_text(app.screen) == "draft text"


async def test_catalog_filters_by_text_track_and_status(seeded):
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        listing = app.screen.query_one(ExerciseList)
        assert listing.ids == ["basics/bullets", "basics/greeting", "systems/labels"]
        await pilot.press("slash", *"system")
        assert listing.ids == ["systems/labels"]
        await pilot.press("escape")
        assert len(listing.ids) == 3 and app.focused is listing
        await pilot.press("s")  # new
        assert listing.ids == ["systems/labels"]
        await pilot.press("s")  # tried
        assert listing.ids == [] and "No exercise matches the filters" in screen_text(app)
        await pilot.press("s")  # passed
        assert listing.ids == ["basics/bullets", "basics/greeting"]
        await pilot.press("t", "t")  # basics, then systems
        assert listing.ids == [] and "track: systems (t) · level: any (l) · status: passed (s)" in screen_text(app)
        await pilot.press("escape")
        assert len(listing.ids) == 3
        await pilot.press("l")
        assert listing.ids == ["basics/bullets"] and "level: 1 (l)" in screen_text(app)
        await pilot.press("l")
        assert listing.ids == ["basics/greeting"] and "level: 2 (l)" in screen_text(app)
        await pilot.press("escape", "slash", *"greeting basics")  # the words in any order, across id and title
        assert listing.ids == ["basics/greeting"]


async def test_help_lists_every_binding_with_its_id():
    from lab.tui.keys import all_binding_ids

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        ids = {row[3] for row in app.screen.rows}
        assert all_binding_ids() <= ids
        assert "lab.help" in screen_text(app) and "Every key of every screen." in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, CatalogScreen)


async def test_palette_offers_every_action_of_the_screen(seeded):
    from lab.tui.commands import palette_entries

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        titles = {e.title for e in palette_entries(app, screen)}
        assert {"Exercise: Send", "Exercise: History", "Exercise: Next", "Exercise: Reset", "Lab: Model",
                "Lab: Progress", "Lab: Help", "Open: Make it say hello"} <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"history")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history, from the palette")


async def test_theme_change_is_saved(monkeypatch):
    from lab.settings import paths

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        app.theme = "nord"
        await pilot.pause(0.2)
    assert tomllib.loads(paths.config_file().read_text())["theme"] == "nord"
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        assert app.theme == "nord"


async def test_keymap_in_config_rebinds_a_key():
    from lab.settings import paths

    paths.config_file().write_text('[keymap]\n"exercise.hint" = "g"\n"no.such" = "z"\n')
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await pilot.press("escape", "g")
        assert "Hint 1/2:" in screen_text(app)
        assert screen is app.screen
        assert any("unknown keys: no.such" in n.message for n in app._notifications)


def test_every_binding_has_an_id_and_a_tooltip():
    from textual.binding import Binding

    from lab.tui.app import binding_owners

    for where, owner in binding_owners():
        for binding in Binding.make_bindings(owner.BINDINGS):
            if binding.system:
                continue
            assert binding.id and binding.tooltip, f"{where}: the binding for {binding.key} needs an id and a tooltip"


class _ScriptedJudge:
    """A judge that answers every request the same way (the exchange is what is under test)."""

    model = "openai/judge"

    def ask(self, messages, *, response_schema=None):
        return "The answer is written for a child.\nGRADE: PASS"

    def supports_schema(self):
        return False


async def test_an_attempt_shows_what_the_judge_was_sent_and_answered(tmp_path):
    from fixtures.exercise_files import load, minimal

    from lab.practice.attempts import Usage, outcome_dict
    from lab.practice.grading import grade
    from lab.practice.store import Store

    exercise = load(tmp_path, "kids.j2", minimal(rubric={"criteria": [{"id": "for-kids", "check": "judge", "rubric": "Written for a ten-year-old."}]}))
    outputs = {"only": ["Plants eat sunlight."]}
    g = grade(exercise, outputs, judge=_ScriptedJudge())
    with Store() as store:
        attempt_id = store.begin_attempt(exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track,
                                         model="openai/echo", api_base=None, prompt="Explain photosynthesis to a child.")
        store.finish_attempt(attempt_id, status="graded", score=g.score, passed=g.passed,
                             result=outcome_dict(exercise, "openai/echo", g, outputs, Usage(), attempt_id, 0.1))
        record = store.attempt(attempt_id)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        app.push_screen(AttemptScreen(record))
        await wait_for(pilot, lambda: isinstance(app.screen, AttemptScreen), "the attempt detail")
        shown = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert "── for-kids · only #1 · openai/judge (final-line) · try 1" in shown
        assert "The answer is written for a child.\nGRADE: PASS" in shown
        assert "Written for a ten-year-old." in shown  # the rubric the judge was sent, inside the collapsed section


async def test_reset_asks_first_then_puts_the_starter_back():
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        starter = screen.starter
        screen.query_one("#editor", TextArea).load_text("my own careful prompt")
        await pilot.press("escape", "x")  # leave the editor, then ask for a reset
        assert editor_text(screen) == "my own careful prompt"
        assert screen.status_text == "Press x again to replace your prompt with the starter text."
        await pilot.press("x")
        assert editor_text(screen) == starter
        assert screen.status_text == "The starter text is back (ctrl+z undoes)."


@pytest.mark.live
async def test_ctrl_j_right_after_a_paste_sends_what_the_editor_holds(live_provider, use_model):
    from textual import events

    use_model("openai/echo", live_provider.url)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "basics/greeting")
        await type_prompt(pilot, screen, "before the paste")
        # the terminal delivers the paste and the key in one read: the key must not overtake the paste
        app.post_message(events.Paste(" and the pasted part"))
        app.post_message(events.Key("ctrl+j", None))
        await wait_for(pilot, lambda: screen.runs_started and not screen.running, "the run to finish", 180)
    with Store() as store:
        assert store.attempts("basics/greeting")[0].prompt == "before the paste and the pasted part"


async def test_model_picker_highlights_the_first_row_and_filters_as_one_types(monkeypatch):
    from lab.models import discovery as models
    from lab.models.discovery import ModelChoice

    base = "http://127.0.0.1:8000/v1"
    listed = [ModelChoice("hosted_vllm/echo", base, "vLLM on 127.0.0.1:8000"),
              ModelChoice("openai/echo", base, f"the configured API base {base}")]
    monkeypatch.setattr(models, "probe_local", lambda servers, api_base, budget_s: listed)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setattr("lab.tui.screens.model.discover", models.discover)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelScreen) and app.screen.choices, "the models")
        screen = app.screen
        assert [c.model for c in screen.choices].count("openai/echo") + [c.model for c in screen.choices].count("hosted_vllm/echo") == 1
        options = screen.query_one(OptionList)
        assert options.highlighted == 0
        await pilot.press("enter")  # no arrow key first
        assert screen.query_one("#model-name", Input).value == "hosted_vllm/echo"
        screen.query_one(OptionList).focus()
        await pilot.press(*"haiku")
        await pilot.pause()
        assert screen.query_one("#model-name", Input).value == "haiku"
        shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert shown and all("haiku" in s for s in shown)
        assert options.highlighted == 0
        await pilot.press("enter")
        assert screen.query_one("#model-name", Input).value == "anthropic/claude-3-5-haiku-latest"


def _wholly_in_view(screen, widget_id: str) -> bool:
    widget, task = screen.query_one(widget_id), screen.query_one("#task")
    view = task.content_region
    return widget.region.height > 0 and view.y <= widget.region.y and widget.region.bottom <= view.bottom


@pytest.mark.live
async def test_revealed_hints_and_the_solution_scroll_wholly_into_view(live_provider, use_model):
    use_model("openai/echo", live_provider.url)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exercise(pilot, "basics/bullets")
        await pilot.press("escape", "h", "h")
        await pilot.pause(0.3)
        assert "Hint 2/2" in screen_text(app) and "surrounds them." in screen_text(app)  # its last line
        assert _wholly_in_view(screen, "#hints")
        screen.query_one("#task").scroll_home(animate=False)
        await pilot.press("e")
        await type_prompt(pilot, screen, GOOD)
        await send_and_wait(pilot, screen)
        assert screen.passed
        await pilot.pause(0.3)
        assert _wholly_in_view(screen, "#solution")


def test_score_chart_scales_from_zero_to_one():
    from lab.tui.widgets.chart import score_bars

    assert score_bars([0.56, 1.0, 0.0], height=4, width=5) == [" █ ", "▂█ ", "██ ", "██ "]
    assert score_bars([0.56, 1.0], height=2, width=40) == ["▁▁ ██", "██ ██"]
    assert score_bars([0.5] * 50, height=1, width=10) == ["▄" * 10]


async def test_progress_chart_draws_a_low_score_above_the_baseline(seeded):
    from lab.tui.widgets.chart import ScoreChart

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen), "the progress screen")
        chart = app.screen.query_one("#chart", ScoreChart)
        lowest = min(chart.scores)
        assert 0 < lowest < 1
        column = chart.scores.index(lowest) * 3  # bars two cells wide, one apart
        drawn = str(chart.render()).splitlines()
        assert drawn[-1][column] != " "  # not drawn as zero


async def test_an_answer_cut_off_at_the_token_limit_is_marked_over_its_text(live_provider, use_model, tmp_path):
    from lab.tui.app import LabApp

    course = tmp_path / "course"
    (course / "limits").mkdir(parents=True)
    source = (TUI_EXERCISES / "basics" / "greeting.j2").read_text(encoding="utf-8")
    (course / "limits" / "cut.j2").write_text(source.replace("level: 2\n", "level: 2\nmodel:\n  max_tokens: 2\n"), encoding="utf-8")
    use_model("openai/echo", live_provider.url)
    app = LabApp([course], cursor_blink=False, preload_litellm=False)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "limits/cut")
        await type_prompt(pilot, screen, "now please say hello")  # cut to "now please": no hello
        await send_and_wait(pilot, screen)
        title = screen.query(".output-title").first()
        assert "cut off at the token limit" in str(title.render()) and title.has_class("-cut-off")
        assert "The answer was cut off for case 'only': the model stopped at max_tokens: 2, set by the exercise." in screen.status_text


async def test_an_answer_exercise_is_graded_without_a_model(tmp_path):
    from lab.tui.app import LabApp

    course = tmp_path / "course"
    (course / "review").mkdir(parents=True)
    source = (TUI_EXERCISES / "basics" / "greeting.j2").read_text(encoding="utf-8")
    (course / "review" / "answer.j2").write_text(source.replace("level: 2\n", "level: 2\nwrites: answer\n"), encoding="utf-8")
    app = LabApp([course], cursor_blink=False, preload_litellm=False)  # no model chosen at all
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_exercise(pilot, "review/answer")
        assert screen.status_text.startswith("Write your answer, then ctrl+j")
        await type_prompt(pilot, screen, "hello, I checked it")
        await send_and_wait(pilot, screen)
        assert screen.status_text.startswith("Passed with 1.00!")
        assert any("hello, I checked it" in str(o.source) for o in screen.query(".output"))
    with Store() as store:
        [attempt] = store.attempts("review/answer")
    assert (attempt.status, attempt.model) == ("graded", "none (your answer)")
